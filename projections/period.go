package projections

import (
	"math"
	"time"
)

// ParseReportTime parses a report period bound: a date ("2010-06-06",
// meaning 00:00 UTC that day) or an RFC 3339 time ("2010-06-06T09:30:00Z",
// "2010-06-06T11:30:00+02:00").
func ParseReportTime(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t.UTC(), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// The ends of an unbounded period. Both fall on the first of a month, so
// that an unbounded period is all month buckets.
var (
	beginningOfTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	endOfTime       = time.Date(9999, time.December, 1, 0, 0, 0, 0, time.UTC)
)

// nanos is t as stored in occurred_at columns (Unix nanoseconds), clamped to
// int64 for bounds far outside the years events can have.
func nanos(t time.Time) int64 {
	if t.Year() < 1678 {
		return math.MinInt64
	}
	if t.Year() > 2261 {
		return math.MaxInt64
	}
	return t.UnixNano()
}

func dayKey(t time.Time) string   { return t.UTC().Format(time.DateOnly) }
func monthKey(t time.Time) string { return t.UTC().Format("2006-01") }

func floorDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func ceilDay(t time.Time) time.Time {
	f := floorDay(t)
	if f.Equal(t) {
		return f
	}
	return f.AddDate(0, 0, 1)
}

func floorMonth(t time.Time) time.Time {
	y, m, _ := t.Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

func ceilMonth(t time.Time) time.Time {
	f := floorMonth(t)
	if f.Equal(t) {
		return f
	}
	return f.AddDate(0, 1, 0)
}

// segments split a period [from, to) into what answers it fastest: whole
// months from month buckets, whole days from day buckets, and the partial
// days at either end from the individual facts.
type segments struct {
	facts  [][2]int64  // [from, to) in Unix nanoseconds
	days   [][2]string // [from, to) as YYYY-MM-DD
	months [][2]string // [from, to) as YYYY-MM
}

func split(from, to time.Time, useMonths bool) segments {
	var s segments
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return s
	}
	d1, d2 := ceilDay(from), floorDay(to)
	if !d1.Before(d2) {
		s.facts = append(s.facts, [2]int64{nanos(from), nanos(to)})
		return s
	}
	if from.Before(d1) {
		s.facts = append(s.facts, [2]int64{nanos(from), nanos(d1)})
	}
	if d2.Before(to) {
		s.facts = append(s.facts, [2]int64{nanos(d2), nanos(to)})
	}
	m1, m2 := ceilMonth(d1), floorMonth(d2)
	if !useMonths || !m1.Before(m2) {
		s.days = append(s.days, [2]string{dayKey(d1), dayKey(d2)})
		return s
	}
	if d1.Before(m1) {
		s.days = append(s.days, [2]string{dayKey(d1), dayKey(m1)})
	}
	s.months = append(s.months, [2]string{monthKey(m1), monthKey(m2)})
	if m2.Before(d2) {
		s.days = append(s.days, [2]string{dayKey(m2), dayKey(d2)})
	}
	return s
}
