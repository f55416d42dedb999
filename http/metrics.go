package casehttp

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ProjectionLag is how far one projection trails the log, as the projection
// engine reports it.
type ProjectionLag struct {
	Name       string
	LagEvents  uint64
	LagSeconds float64
	Failed     bool
}

// Metrics are the Prometheus metrics served at /metrics. Each server has its
// own registry, so that several can run in one process (tests).
type Metrics struct {
	Registry *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	appendDuration *prometheus.HistogramVec
	limitedTotal   *prometheus.CounterVec

	// series caches the request counter and histogram of each method,
	// route and status seen, so that a request finds its own with one map
	// lookup and no allocation rather than through the vectors' label
	// hashing. The map is never written once published: additions copy it
	// (they are rare, the combinations being few), so reads need no lock.
	series   atomic.Pointer[map[seriesKey]requestSeries]
	seriesMu sync.Mutex // serialises additions
}

// seriesKey names the request series of one method, route and status.
type seriesKey struct {
	method, route string
	status        int
}

// requestSeries are the metrics one request updates.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// maxCachedSeries bounds the cache. Every label comes from a fixed set
// (methodLabel, route templates, the statuses the server answers), so the
// bound is a second line of defence only.
const maxCachedSeries = 512

// NewMetrics builds the registry. lag, when not nil, is called at every
// scrape to report projection lag.
func NewMetrics(lag func(ctx context.Context) []ProjectionLag) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.series.Store(&map[seriesKey]requestSeries{})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casebook_http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "casebook_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by method, route template and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "casebook_http_requests_in_flight",
		Help: "HTTP requests being handled now.",
	})
	m.appendDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "casebook_store_append_duration_seconds",
		Help:    "Time for the event store to acknowledge a durable append, by outcome (ok, conflict, error).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"outcome"})
	m.limitedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casebook_http_limited_total",
		Help: "Requests refused with 429 by a per-caller limit, by reason (concurrency, rate: a token's share; auth_failures: an address's failed authentications).",
	}, []string{"reason"})
	m.Registry.MustRegister(m.requests, m.duration, m.inFlight, m.appendDuration, m.limitedTotal,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that abuse would otherwise create on its first request exist
	// from the start, so that /metrics keeps its size under it.
	for _, reason := range limitedReasons {
		m.limitedTotal.WithLabelValues(reason)
	}
	m.seriesFor(seriesKey{method: methodOther, route: routeUnmatched, status: http.StatusNotImplemented})
	if lag != nil {
		m.Registry.MustRegister(&projectionLagCollector{lag: lag})
	}
	return m
}

// handler serves the registry in Prometheus' text format.
func (m *Metrics) handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	return gin.WrapH(h)
}

// observeRequest counts and times a request by route template (never the
// raw path, which holds ids) and status.
func (m *Metrics) observeRequest(method, route string, status int, elapsed time.Duration) {
	s := m.seriesFor(seriesKey{method: method, route: route, status: status})
	s.count.Inc()
	s.duration.Observe(elapsed.Seconds())
}

// limited counts a request refused by a per-caller limit.
func (m *Metrics) limited(reason string) { m.limitedTotal.WithLabelValues(reason).Inc() }

func (m *Metrics) seriesFor(k seriesKey) requestSeries {
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	cached := *m.series.Load()
	if s, ok := cached[k]; ok {
		return s
	}
	// The method is a slice of the request line; keep a copy of its own.
	k.method = strings.Clone(k.method)
	status := strconv.Itoa(k.status)
	s := requestSeries{
		count:    m.requests.WithLabelValues(k.method, k.route, status),
		duration: m.duration.WithLabelValues(k.method, k.route, status),
	}
	if len(cached) >= maxCachedSeries {
		return s
	}
	grown := make(map[seriesKey]requestSeries, len(cached)+1)
	maps.Copy(grown, cached)
	grown[k] = s
	m.series.Store(&grown)
	return s
}

var (
	lagEventsDesc = prometheus.NewDesc("casebook_projection_lag_events",
		"Events of the log a projection has not applied yet.", []string{"projection"}, nil)
	lagSecondsDesc = prometheus.NewDesc("casebook_projection_lag_seconds",
		"Age of the oldest event a projection has not applied yet.", []string{"projection"}, nil)
	failedDesc = prometheus.NewDesc("casebook_projection_failed",
		"1 when a projection stopped on an event it could not apply.", []string{"projection"}, nil)
)

type projectionLagCollector struct {
	lag func(ctx context.Context) []ProjectionLag
}

func (p *projectionLagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagEventsDesc
	ch <- lagSecondsDesc
	ch <- failedDesc
}

func (p *projectionLagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, l := range p.lag(ctx) {
		failed := 0.0
		if l.Failed {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(lagEventsDesc, prometheus.GaugeValue, float64(l.LagEvents), l.Name)
		ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, l.LagSeconds, l.Name)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, failed, l.Name)
	}
}

// ObserveAppend records how long the event store took to acknowledge an
// append, by outcome (ok, conflict, error). casebookd wraps its store to
// call it (the API itself never touches the store).
func (m *Metrics) ObserveAppend(outcome string, elapsed time.Duration) {
	m.appendDuration.WithLabelValues(outcome).Observe(elapsed.Seconds())
}
