package main_test

// The dashboard in a real browser: Debian's Chromium driven by chromedp
// over loopback, on the demo data (issue 18). It needs /usr/bin/chromium
// (or CASEBOOK_CHROMIUM) and axe-core from ui/web/node_modules (npm ci in
// ui/web); without them it is skipped, unless CASEBOOK_BROWSER_TEST=require
// (CI sets it), which makes their absence a failure.
//
// Screenshots of each page, and the timing figures, are written to
// artifacts/ui-screenshots/ at the repository's root (or
// CASEBOOK_SCREENSHOTS).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/demo"
	"github.com/casebook/casebook/domain"
	"github.com/casebook/casebook/eventstore/sqlitestore"
)

const repoRoot = "../.."

// browserTools finds Chromium and axe-core, or skips (fails when required).
func browserTools(t *testing.T) (chromium, axe string) {
	t.Helper()
	required := os.Getenv("CASEBOOK_BROWSER_TEST") == "require"
	missing := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (CASEBOOK_BROWSER_TEST=require makes this a failure)", args...)
	}
	chromium = os.Getenv("CASEBOOK_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("no Chromium at %s: apt-get install -y chromium", chromium)
	}
	axe = filepath.Join(repoRoot, "ui", "web", "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(axe); err != nil {
		missing("no axe-core at %s: run npm ci in ui/web", axe)
	}
	return chromium, axe
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CASEBOOK_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(repoRoot, "artifacts", "ui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// browser is one headless Chromium tab on the dashboard.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	axe   string
	shots string

	mu      sync.Mutex
	console []string // errors the page logged
}

// newBrowser starts Chromium with exactly the flags CI uses and a fresh
// profile, and records what the page logs as errors.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	chromium, axePath := browserTools(t)
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, axe: string(axe), shots: screenshotDir(t)}
	// The first Do starts the browser, for as long as ctx lives (so not
	// under a step's deadline).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Chromium logs each 401/403/404 answer the page expects (the
			// wrong token, the capability probes) as a failed resource
			// load; the page's own errors and exceptions count.
			if m.Type != chromedp.ConsoleError && !m.IsException() || strings.HasPrefix(m.Text, "Failed to load resource") {
				continue
			}
			b.mu.Lock()
			b.console = append(b.console, fmt.Sprintf("%s: %s", m.Type, m.Text))
			b.mu.Unlock()
		}
	}()
	// Every CSP violation is kept where the test can read it. DevTools
	// installs this listener; the page's own CSP does not apply to it.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// do runs actions in the tab, each step bounded.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage errors: %v", err, b.pageErrors())
	}
}

// evaluate runs a JavaScript expression and decodes its value.
func evaluate[T any](b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage errors: %v", expr, err, b.pageErrors())
	}
	return v
}

// wait polls a JavaScript condition until it is true.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 40*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText.slice(0, 1500) : ""`))
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s\npage errors: %v", what, expr, err, state, b.pageErrors())
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(evaluate[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(b.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeScan runs axe-core on the page as it is and fails on serious or
// critical violations.
func (b *browser) axeScan(where string) {
	b.t.Helper()
	if !evaluate[bool](b, `typeof window.axe === "object"`) {
		evaluate[chromedp.Void](b, b.axe)
	}
	violations := evaluate[[]axeViolation](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`, chromedp.EvalAwaitPromise)
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("axe (%s): %s %s: %s at %v", where, v.Impact, v.ID, v.Help, v.Targets)
		} else {
			b.t.Logf("axe (%s), %s (not failing): %s: %s at %v", where, v.Impact, v.ID, v.Help, v.Targets)
		}
	}
}

// pageIsClean fails on CSP violations and errors the page logged.
func (b *browser) pageIsClean() {
	b.t.Helper()
	if csp := evaluate[[]string](b, `window.__csp || []`); len(csp) > 0 {
		b.t.Errorf("Content-Security-Policy violations: %v", csp)
	}
	for _, c := range b.pageErrors() {
		b.t.Errorf("page error: %s", c)
	}
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do(
		chromedp.Navigate(b.base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`#who button`)))
	b.wait("the sign-in form", `!!document.querySelector("#token")`)
	if stored := evaluate[any](b, `sessionStorage.getItem("casebook.token")`); stored != nil {
		b.t.Errorf("the token is still in sessionStorage after signing out: %v", stored)
	}
}

// loaded is the number of the reports page's last finished load (after
// waiting for the first).
func (b *browser) loaded() string {
	b.t.Helper()
	b.wait("a first load", `!!document.querySelector("[data-page=reports][data-loaded]")`)
	return evaluate[string](b, `document.querySelector("[data-page=reports]").getAttribute("data-loaded") || ""`)
}

// waitLoaded waits until the reports page has finished a load after the
// one numbered before.
func (b *browser) waitLoaded(before string) {
	b.t.Helper()
	b.wait("the reports to load", fmt.Sprintf(`(() => { const p = document.querySelector("[data-page=reports]"); const l = p && p.getAttribute("data-loaded"); return !!l && l !== %q; })()`, before))
}

// showYearTo6June2011 picks the press release's year and waits for the
// reports to load.
func (b *browser) showYearTo6June2011() {
	b.t.Helper()
	before := b.loaded()
	b.do(chromedp.Click(chromedp.CSS(`#year-to-june-2011`)))
	b.waitLoaded(before)
}

// loadDemo loads the demo data set into dir/data, as `casebook demo` does.
func loadDemo(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "data", "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := core.New(core.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(ctx)
	if _, err := demo.Load(ctx, svc, demo.NewPlan(1), demo.LoadOptions{Workers: 1}); err != nil {
		t.Fatal(err)
	}
}

// pageWeight fetches the entry page and every file it names, as a browser
// would (gzip accepted), and returns the bytes sent and their size unpacked.
func pageWeight(t *testing.T, base string) (sent, unpacked int, files []string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(path string, gzip bool) []byte {
		req, _ := http.NewRequest("GET", base+path, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || gzip != (resp.Header.Get("Content-Encoding") == "gzip") {
			t.Errorf("GET %s (gzip %v): %d, Content-Encoding %q", path, gzip, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		return body
	}
	html := get("/ui/", false)
	paths := []string{"/ui/"}
	for _, m := range regexp.MustCompile(`(?:src|href)="([a-zA-Z0-9._-]+)"`).FindAllStringSubmatch(string(html), -1) {
		paths = append(paths, "/ui/"+m[1])
	}
	for _, p := range paths {
		sent += len(get(p, true))
		unpacked += len(get(p, false))
	}
	return sent, unpacked, paths
}

// apiBaseline is the time the API alone takes for what the page asks
// between Sign in and its first headline number — the two capability
// probes (at once), then the summary — from a Go client on the same
// machine: the median of 5.
func apiBaseline(t *testing.T, s *server) float64 {
	t.Helper()
	get := func(path string) {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokenOf[analyst])
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	year := time.Now().UTC()
	from := year.AddDate(-1, 0, 1).Format("2006-01-02")
	to := year.AddDate(0, 0, 1).Format("2006-01-02")
	var runs []float64
	for range 5 {
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { get("/v1/events/00000000-0000-0000-0000-000000000000") })
		wg.Go(func() { get("/v1/projections") })
		wg.Wait()
		get("/v1/reports/summary?from=" + from + "&to=" + to)
		runs = append(runs, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(runs)
	return runs[len(runs)/2]
}

// The browser test, on the demo data: the analyst's figures for the
// year to 6 June 2011, the detections by year, a month's arrests bar listing
// as many events as it shows (by mouse and by keyboard), "As known on"
// before the data was recorded and cleared again, an auditor opening an
// event and its hash, an admin's projections page, a wrong token's reason,
// axe-core on every page, at 360 px and on a large screen.
func TestDashboardInChromium(t *testing.T) {
	browserTools(t) // skip early, before loading data, when there is no browser
	dir := t.TempDir()
	loadDemo(t, dir)
	s := startServerIn(t, dir)
	b := newBrowser(t, s.url)
	figures := map[string]any{}

	sent, unpacked, files := pageWeight(t, s.url)
	t.Logf("page weight as served (gzip): %d bytes (%d unpacked) for %v", sent, unpacked, files)
	figures["page_weight_bytes_gzip"], figures["page_weight_bytes_unpacked"], figures["page_files"] = sent, unpacked, files

	t.Run("WrongTokenShowsTheReason", func(t *testing.T) {
		b.t = t
		b.signIn("cbk_not-a-token")
		b.wait("the reason", `(document.querySelector("#signin-error") || {}).textContent.includes("not valid")`)
		if got := b.text("#signin-error"); !strings.Contains(got, "The bearer token is not valid") {
			t.Errorf("reason %q", got)
		}
		if stored := evaluate[any](b, `sessionStorage.getItem("casebook.token")`); stored != nil {
			t.Errorf("a refused token stays in sessionStorage: %v", stored)
		}
		label := evaluate[string](b, `document.querySelector("label[for=token]").textContent`)
		if label != "Access token" || b.text("button[type=submit]") != "Sign in" {
			t.Errorf("form: label %q, button %q", label, b.text("button[type=submit]"))
		}
		b.screenshot("01-sign-in-wrong-token.png")
		b.axeScan("sign-in")
	})

	t.Run("Analyst", func(t *testing.T) {
		b.t = t
		b.signIn(tokenOf[analyst])
		b.wait("a first headline number", `!!document.querySelector("#figure-arrests .value")`)
		ms := evaluate[float64](b, `performance.measure("signin-to-headline", "casebook:signin", "casebook:first-headline").duration`)
		base := apiBaseline(t, s)
		t.Logf("Sign in → first headline number: %.0f ms; the same requests from Go: %.1f ms (%.1f×)", ms, base, ms/base)
		figures["sign_in_to_first_headline_ms"], figures["api_alone_ms"] = ms, base
		where := evaluate[[]string](b, `[location.href, document.cookie, JSON.stringify(localStorage)]`)
		for _, w := range where {
			if strings.Contains(w, tokenOf[analyst]) {
				t.Errorf("the token is in the URL, a cookie or localStorage: %q", w)
			}
		}
		if b.text(`#nav a[href="#/projections"]`) != "" {
			t.Error("an analyst is offered the projections page")
		}

		before := b.loaded()
		evaluate[chromedp.Void](b, `performance.mark("test:year-to-june-2011")`)
		b.do(chromedp.Click(chromedp.CSS(`#year-to-june-2011`)))
		b.waitLoaded(before)
		ms = evaluate[float64](b, `performance.measure("year", "test:year-to-june-2011", "casebook:reports-loaded").duration`)
		t.Logf("Year to 6 June 2011 → every figure and chart shown: %.0f ms", ms)
		figures["year_to_june_2011_all_figures_ms"] = ms
		if got := b.text("#figure-gangs .value"); got != "9" {
			t.Errorf("gangs dismantled %q, want 9", got)
		}
		if got := b.text("#figure-arrests .value"); got != "173" {
			t.Errorf("arrests %q, want 173", got)
		}
		if got := b.text("#headlines .provenance"); !regexp.MustCompile(`^Position [\d,]+ · fetched \d\d:\d\d:\d\d UTC$`).MatchString(got) {
			t.Errorf("headline provenance %q", got)
		}

		years := evaluate[[]struct{ Key, Value, Name string }](b, `[...document.querySelectorAll("#chart-detections-year rect[data-key]")].map(r => ({key: r.dataset.key, value: r.dataset.value, name: r.getAttribute("aria-label")}))`)
		want := []struct{ Key, Value, Name string }{
			{"2009", "29112", "People detected, 2009: 29,112"},
			{"2010", "9731", "People detected, 2010: 9,731"},
			{"2011", "3502", "People detected, 2011: 3,502"},
		}
		if fmt.Sprint(years) != fmt.Sprint(want) {
			t.Errorf("detections by year: %+v, want %+v", years, want)
		}
		for _, id := range []string{"chart-arrests", "chart-detections-year", "chart-detections-method", "chart-seizures-commodity", "chart-seizures-location", "chart-gangs"} {
			if got := b.text("#" + id + " .provenance"); !strings.HasPrefix(got, "Position ") || !strings.Contains(got, "fetched") {
				t.Errorf("%s: provenance %q", id, got)
			}
			rows := evaluate[int](b, fmt.Sprintf(`document.querySelectorAll("#%s table tbody tr").length`, id))
			if rows == 0 {
				t.Errorf("%s has no table of its figures", id)
			}
		}

		// A month's arrests bar, clicked: as many events as the bar shows,
		// each with its type and date, no name and no way to open it.
		bar := evaluate[struct{ Key, Value, Name string }](b, `(() => { const r = document.querySelector('#chart-arrests rect.bar[data-key="2010-09"]'); return {key: r.dataset.key, value: r.dataset.value, name: r.getAttribute("aria-label")}; })()`)
		if bar.Name != "Arrests, September 2010: "+bar.Value || bar.Value == "0" {
			t.Fatalf("September 2010's bar: %+v", bar)
		}
		b.do(chromedp.Click(chromedp.CSS(`#chart-arrests rect.bar[data-key="2010-09"]`)))
		b.wait("the events behind the bar", fmt.Sprintf(`document.querySelectorAll("#explain .event-list li").length == %s && !document.querySelector("#explain .event-list li .date").textContent.includes("not known")`, bar.Value))
		rows := evaluate[[]string](b, `[...document.querySelectorAll("#explain .event-list li")].map(li => li.innerText)`)
		for _, r := range rows {
			if !strings.Contains(r, "Arrest made") || !strings.Contains(r, "September 2010") {
				t.Errorf("event row %q: want the type and a date in September 2010", r)
			}
		}
		if n := b.text(`#explain .event-list button`); n != "" {
			t.Errorf("an analyst can open events: %q", n)
		}
		b.screenshot("02-reports-analyst.png")
		b.axeScan("reports, analyst")

		// The same by keyboard: another month's bar, focused and Entered.
		other := evaluate[struct{ Key, Value string }](b, `(() => { const r = document.querySelector('#chart-arrests rect.bar[data-key="2011-01"]'); return {key: r.dataset.key, value: r.dataset.value}; })()`)
		b.do(chromedp.Focus(chromedp.CSS(`#chart-arrests rect.bar[data-key="2011-01"]`)), chromedp.KeyEvent(kb.Enter))
		b.wait("the keyboard-opened events", fmt.Sprintf(`document.querySelector("#explain h2").textContent.includes("January 2011") && document.querySelectorAll("#explain .event-list li").length == %s`, other.Value))
		focused := evaluate[string](b, `document.activeElement.id`)
		if focused != "explain-h" {
			t.Errorf("focus after opening the events: %q, want the list's heading", focused)
		}

		// As known on the day before the data was recorded: nothing yet.
		before = b.loaded()
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
		b.do(chromedp.SetValue(chromedp.CSS(`#as-of`), yesterday), chromedp.Click(chromedp.CSS(`#show`)))
		b.waitLoaded(before)
		if g, a := b.text("#figure-gangs .value"), b.text("#figure-arrests .value"); g != "0" || a != "0" {
			t.Errorf("as known on %s: gangs %q, arrests %q, want 0 and 0", yesterday, g, a)
		}
		if got := b.text("#headlines .provenance"); !strings.Contains(got, "as known on") {
			t.Errorf("provenance %q does not say as known on", got)
		}
		b.screenshot("03-reports-as-known-on-before-the-data.png")
		before = b.loaded()
		b.do(chromedp.Click(chromedp.CSS(`#clear-as-of`)))
		b.waitLoaded(before)
		if g, a := b.text("#figure-gangs .value"), b.text("#figure-arrests .value"); g != "9" || a != "173" {
			t.Errorf("as_of cleared: gangs %q, arrests %q, want 9 and 173", g, a)
		}

		// A headline's 173 arrests: listed a hundred at a time (the API's
		// explain page; main's reports answer every id at once and the page
		// pages them itself), all of them after "Show more events".
		b.do(chromedp.Click(chromedp.CSS(`#figure-arrests`)))
		b.wait("the first hundred arrests", `document.querySelectorAll("#explain .event-list li").length == 100`)
		b.do(chromedp.Click(chromedp.CSS(`#explain-more`)))
		b.wait("all 173 arrests", `document.querySelectorAll("#explain .event-list li").length == 173 && document.querySelector("#explain-more").hidden`)

		// Filters: UKBA's figures for the same year, as the API answers
		// them (the page passes the filter to every report), then the
		// figures at Dover (no gangs figure: a dismantling has no place),
		// then everything again.
		apiSummary := func(query string) map[string]any {
			t.Helper()
			r := s.do(t, req{method: "GET", path: "/v1/reports/summary?from=2010-06-07&to=2011-06-07&" + query, as: analyst})
			mustStatus(t, r, http.StatusOK)
			var m map[string]any
			r.decode(t, &m)
			return m
		}
		count := func(v any) string { // as the page writes a count: 1,234
			n, _ := v.(float64)
			d := strconv.FormatInt(int64(n), 10)
			for i := len(d) - 3; i > 0; i -= 3 {
				d = d[:i] + "," + d[i:]
			}
			return d
		}
		before = b.loaded()
		b.do(chromedp.SetValue(chromedp.CSS(`#agency`), "UKBA"), chromedp.Click(chromedp.CSS(`#show`)))
		b.waitLoaded(before)
		ukba := apiSummary("agency=UKBA")
		if got, want := b.text("#figure-arrests .value"), count(ukba["arrests"]); got != want || got == "173" {
			t.Errorf("UKBA's arrests %q, want the API's %q (and not every agency's 173)", got, want)
		}
		if got, want := b.text("#figure-gangs .value"), count(ukba["gangs_dismantled"]); got != want {
			t.Errorf("UKBA's gangs dismantled %q, want the API's %q", got, want)
		}
		if got := b.text(".period-line"); !strings.Contains(got, "UKBA") {
			t.Errorf("the period line does not name the agency: %q", got)
		}
		if bars := evaluate[[]string](b, `[...document.querySelectorAll("#chart-gangs rect[data-key]")].map(r => r.dataset.key)`); fmt.Sprint(bars) != "[UKBA]" {
			t.Errorf("gangs by agency filtered to UKBA: bars %v", bars)
		}
		b.screenshot("03b-reports-filtered-ukba.png")
		// Locations are offered by name (GET /v1/places), their codes the values.
		if got := evaluate[string](b, `document.querySelector('#location option[value="DOVER"]')?.textContent ?? ""`); got != "Dover" {
			t.Errorf("the location filter offers DOVER as %q, want its name Dover", got)
		}
		before = b.loaded()
		b.do(chromedp.SetValue(chromedp.CSS(`#agency`), ""), chromedp.SetValue(chromedp.CSS(`#location`), "DOVER"), chromedp.Click(chromedp.CSS(`#show`)))
		b.waitLoaded(before)
		dover := apiSummary("location=DOVER")
		if got, want := b.text("#figure-arrests .value"), count(dover["arrests"]); got != want || got == "173" {
			t.Errorf("arrests at Dover %q, want the API's %q", got, want)
		}
		if _, ok := dover["gangs_dismantled"]; ok || b.text("#figure-gangs") != "" || !strings.Contains(b.text("#gangs-no-location"), "no place") {
			t.Errorf("at Dover: the API's gangs %v, the page's %q, note %q; want none and the reason", dover["gangs_dismantled"], b.text("#figure-gangs"), b.text("#gangs-no-location"))
		}
		b.axeScan("reports, filtered")
		before = b.loaded()
		b.do(chromedp.SetValue(chromedp.CSS(`#location`), ""), chromedp.Click(chromedp.CSS(`#show`)))
		b.waitLoaded(before)
		if g, a := b.text("#figure-gangs .value"), b.text("#figure-arrests .value"); g != "9" || a != "173" {
			t.Errorf("filters cleared: gangs %q, arrests %q, want 9 and 173", g, a)
		}

		// 360 px wide, then a large screen.
		b.do(chromedp.EmulateViewport(360, 800))
		b.wait("the charts redrawn narrow", `document.querySelector("#chart-arrests svg").getBoundingClientRect().width <= 360`)
		overflow := evaluate[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`)
		if overflow > 0 {
			t.Errorf("at 360 px the page scrolls sideways by %d px", overflow)
		}
		b.screenshot("04-reports-360px.png")
		b.axeScan("reports, 360 px")
		b.do(chromedp.EmulateViewport(1920, 1080))
		b.wait("the charts redrawn wide", `document.querySelector("#chart-arrests svg").getBoundingClientRect().width > 400`)
		b.screenshot("05-reports-1920px.png")
		b.do(chromedp.EmulateViewport(1280, 900))
		b.signOut()
	})

	t.Run("WaitsAsRetryAfterSays", func(t *testing.T) {
		// The summary's first answer is a 429 with Retry-After: 2 (put in
		// by the browser's request interception); the page must say it
		// waits, ask again no sooner than 2 s later, and show the figures.
		b.t = t
		b.signIn(tokenOf[analyst])
		before := b.loaded()
		evaluate[chromedp.Void](b, `window.__waits = []; new MutationObserver(() => { const t = document.getElementById("status").textContent; if (t) window.__waits.push(t); }).observe(document.getElementById("status"), {childList: true, characterData: true, subtree: true})`)
		ctx, stop := context.WithCancel(b.ctx)
		defer stop()
		paused := chromedp.Events(ctx, fetch.RequestPaused)
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/v1/reports/summary*"}}}); err != nil {
			t.Fatal(err)
		}
		var times []time.Time
		var mu sync.Mutex
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				mu.Lock()
				times = append(times, time.Now())
				first := len(times) == 1
				mu.Unlock()
				if first {
					_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 429,
						ResponseHeaders: []*fetch.HeaderEntry{{Name: "Retry-After", Value: "2"}, {Name: "Content-Type", Value: "application/problem+json"}},
						Body:            []byte(`{"type":"/problems/rate-limited","title":"Too many requests","status":429,"detail":"Slow down.","request_id":"test"}`)})
					continue
				}
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}()
		b.do(chromedp.Click(chromedp.CSS(`#year-to-june-2011`)))
		b.waitLoaded(before)
		if _, err := chromedp.Call(b.ctx, fetch.Disable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		stop()
		mu.Lock()
		defer mu.Unlock()
		if got := b.text("#figure-arrests .value"); got != "173" {
			t.Errorf("arrests after the retry: %q, want 173", got)
		}
		if len(times) < 2 || times[1].Sub(times[0]) < 2*time.Second {
			t.Errorf("summary requests at %v: want a second one at least 2 s after the 429", times)
		}
		waits := evaluate[[]string](b, `window.__waits`)
		if len(waits) == 0 || !strings.Contains(waits[0], "trying again in 2 s") {
			t.Errorf("status line while waiting: %q", waits)
		}
		if got := b.text("#status"); got != "" {
			t.Errorf("status line after the retry: %q, want it cleared", got)
		}
		b.signOut()
	})

	t.Run("AuditorOpensAnEvent", func(t *testing.T) {
		b.t = t
		b.signIn(tokenOf[auditor])
		b.wait("the reports", `!!document.querySelector("#figure-arrests .value")`)
		b.showYearTo6June2011()
		b.do(chromedp.Click(chromedp.CSS(`#figure-gangs`)))
		b.wait("the events behind the gangs figure", `document.querySelectorAll("#explain .event-list li button").length == 9`)
		b.do(chromedp.Click(chromedp.CSS(`#explain .event-list li button`)))
		b.wait("the event's hash and verdict", `!!(document.querySelector("dialog [data-field=hash]") && document.querySelector("dialog [data-field=verdict]"))`)
		hash := b.text("dialog [data-field=hash]")
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
			t.Errorf("hash %q", hash)
		}
		if got := b.text("dialog [data-field=type]"); got != domain.TypeGangDismantled {
			t.Errorf("type %q", got)
		}
		if got := b.text("dialog [data-field=verdict]"); !strings.Contains(got, "Intact") {
			t.Errorf("verdict %q", got)
		}
		if got := b.text("dialog [data-field=actor]"); got == "" {
			t.Error("no actor")
		}
		b.screenshot("06-event-auditor.png")
		b.axeScan("event, auditor")
		b.do(chromedp.KeyEvent(kb.Escape))
		b.wait("the dialog closed", `!document.querySelector("dialog[open]")`)
		b.signOut()
	})

	t.Run("AdminProjections", func(t *testing.T) {
		b.t = t
		b.signIn(tokenOf[admin])
		b.wait("the projections link", `!!document.querySelector('#nav a[href="#/projections"]')`)
		b.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/projections"]`)))
		b.wait("the read models", `document.querySelectorAll("#projections tbody tr").length >= 5 && document.querySelector("#projections tbody tr td").textContent !== ""`)
		rows := evaluate[[]string](b, `[...document.querySelectorAll("#projections tbody tr")].map(r => [r.dataset.projection, r.cells[1].textContent, r.cells[2].textContent, r.cells[3].textContent].join(" "))`)
		t.Logf("projections (name, state, position, head): %v", rows)
		for _, r := range rows {
			f := strings.Fields(r)
			if len(f) != 4 || f[1] != "Live" || f[2] != f[3] || f[2] == "0" {
				t.Errorf("projection %q: want live at the log's head", r)
			}
		}
		b.do(chromedp.Click(chromedp.CSS(`#projections tr[data-projection=arrests] button`)))
		b.wait("the confirmation", `!!document.querySelector("dialog[open] #confirm-rebuild")`)
		b.screenshot("07-projections-confirm.png")
		b.axeScan("projections, confirmation")
		b.do(chromedp.Click(chromedp.CSS(`#confirm-rebuild`)))
		b.wait("the rebuild started", `document.querySelector("[data-page=projections]").innerText.includes("rebuild of arrests has started")`)
		b.wait("the rebuild done", `document.querySelector("#projections tr[data-projection=arrests]").cells[1].textContent === "Live"`)
		b.screenshot("08-projections-admin.png")
		b.axeScan("projections")
		b.signOut()
	})

	b.t = t
	b.pageIsClean()
	j, _ := json.MarshalIndent(figures, "", "  ")
	if err := os.WriteFile(filepath.Join(b.shots, "figures.json"), j, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("figures: %s", j)
}

// A figure before and after a retraction, on data recorded over several
// days (the demo is recorded in one go): an arrest recorded on 1 March 2011
// and retracted on 3 March shows as 1 arrest "as known on" 2 March, and as
// none on 3 March, on 28 February, and now.
func TestDashboardAsKnownOnAcrossARetraction(t *testing.T) {
	browserTools(t)
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "data", "events.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2011, 3, 1, 10, 0, 0, 0, time.UTC)
	svc, err := core.New(core.Config{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	officer := core.Identity{Subject: "officer.alice", Role: domain.RoleInvestigator, Agency: "UKBA"}
	occurred := time.Date(2011, 2, 27, 9, 0, 0, 0, time.UTC)
	res, _, err := svc.OpenCase(ctx, officer, core.OpenCase{OccurredAt: &occurred,
		Data: json.RawMessage(`{"reference":"UKBA/2011/0900","title":"Operation Wren","crime_types":["people_smuggling"],"location":"Dover"}`)})
	if err != nil {
		t.Fatal(err)
	}
	person := uuid.New()
	record := func(typ, data string) core.Result {
		t.Helper()
		r, err := svc.Record(ctx, officer, res.CaseID, core.Command{Type: typ, OccurredAt: &occurred, Data: json.RawMessage(data)})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return r
	}
	record(domain.TypeSuspectIdentified, fmt.Sprintf(`{"person_id":%q,"name":"Suspect One"}`, person))
	arrest := record(domain.TypeArrestMade, fmt.Sprintf(`{"person_id":%q,"location":"Dover","offence":"facilitation"}`, person))
	now = time.Date(2011, 3, 3, 15, 0, 0, 0, time.UTC)
	occurred = time.Date(2011, 3, 3, 14, 0, 0, 0, time.UTC)
	record(domain.TypeEntryRetracted, fmt.Sprintf(`{"event_id":%q,"reason":"Detained, not arrested"}`, arrest.EventID))
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	s := startServerIn(t, dir)
	b := newBrowser(t, s.url)
	b.signIn(tokenOf[analyst])
	b.wait("the reports", `!!document.querySelector("#figure-arrests .value")`)
	arrestsKnownOn := func(day string) string {
		t.Helper()
		before := b.loaded()
		b.do(chromedp.SetValue(chromedp.CSS(`#from`), "2011-01-01"), chromedp.SetValue(chromedp.CSS(`#to`), "2011-12-31"),
			chromedp.SetValue(chromedp.CSS(`#as-of`), day), chromedp.Click(chromedp.CSS(`#show`)))
		b.waitLoaded(before)
		return b.text("#figure-arrests .value")
	}
	for _, tc := range []struct{ day, want string }{
		{"2011-02-28", "0"}, // nothing recorded yet
		{"2011-03-01", "1"}, // the arrest, recorded that day
		{"2011-03-02", "1"},
		{"2011-03-03", "0"}, // retracted that day
		{"", "0"},           // now
	} {
		if got := arrestsKnownOn(tc.day); got != tc.want {
			t.Errorf("arrests as known on %q: %q, want %s; the page: %s", tc.day, got, tc.want, b.text("#headlines"))
		}
		if tc.day == "2011-03-02" {
			b.screenshot("09-as-known-on-before-a-retraction.png")
		}
	}
	b.pageIsClean()
}

// The dashboard is served by casebookd itself, with its headers, whether or
// not a browser is at hand.
func TestDashboardIsServed(t *testing.T) {
	s := startServer(t)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, gzip bool) *http.Response {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r := get("/ui/", true)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d, %q, %q", r.StatusCode, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"))
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Request-ID") == "" {
		t.Errorf("headers %v", r.Header)
	}
	if r := get("/ui", false); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get("/ui/no-such-file.js", false); r.StatusCode != http.StatusNotFound || r.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /ui/no-such-file.js: %d, CSP %q", r.StatusCode, r.Header.Get("Content-Security-Policy"))
	}
}
