package main_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	main "github.com/casebook/casebook/cmd/casebookd"
)

// The contract's promises that its schemas alone cannot check: every bound
// it documents is one the server enforces, one past it answering the
// documented error; lists link their next page.

// callerFor is who may call an operation: the first of its roles.
func callerFor(op *openapi3.Operation) string {
	roles, _ := op.Extensions["x-casebook-roles"].([]any)
	if len(roles) == 0 {
		return anonymous
	}
	return map[string]string{"investigator": invUKBA, "auditor": auditor, "analyst": analyst, "admin": admin, "dpo": dpoUKBA}[roles[0].(string)]
}

// overBound is a value one past each bound of a parameter's schema: past
// maxLength, maximum, maxItems, or under a positive minimum. Strings are
// made of a character the parameter's pattern allows where it has one.
func overBound(name string, s *openapi3.Schema) []string {
	var out []string
	fill := map[string]string{"If-Match": "1", "Last-Event-ID": "1", "cursor": "A", "agency": "A"}[name]
	if fill == "" {
		fill = "a"
	}
	switch {
	case s.Type.Is("integer"):
		if s.Max != nil {
			out = append(out, strconv.FormatUint(uint64(*s.Max)+1, 10))
		}
		if s.Min != nil && *s.Min > 0 {
			out = append(out, strconv.FormatUint(uint64(*s.Min)-1, 10))
		}
	case s.Type.Is("string") && s.MaxLength != nil:
		n := int(*s.MaxLength) + 1
		switch {
		case name == "If-Match":
			out = append(out, `"`+strings.Repeat("1", n-2)+`"`)
		case strings.Contains(s.Pattern, "[0-9]{4}-"): // a time: RFC 3339 with too many fractional digits
			out = append(out, "2011-06-06T09:30:00."+strings.Repeat("1", n-26)+"+01:00")
		default:
			out = append(out, strings.Repeat(fill, n))
		}
	case s.Type.Is("array") && s.MaxItems != nil:
		out = append(out, strings.Repeat("ArrestMade,", int(*s.MaxItems))+"ArrestMade")
		if it := s.Items.Value; it.MaxLength != nil {
			out = append(out, strings.Repeat("A", int(*it.MaxLength)+1))
		}
	}
	return out
}

func TestEveryDocumentedParameterBoundIsEnforced(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-BOUNDS-P")
	doc := contract(t).Doc
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, pref := range op.Parameters {
				p := pref.Value
				for _, v := range overBound(p.Name, p.Schema.Value) {
					r := req{method: method, as: callerFor(op), headers: map[string]string{}}
					if method == http.MethodPost {
						r.body = intelligence("bounds")
					}
					target := strings.NewReplacer("{id}", c.ID, "{name}", "arrests", "{slug}", "internal").Replace(path)
					q := url.Values{}
					if path == "/v1/access-log" {
						q.Set("case", c.ID)
					}
					switch p.In {
					case "path":
						target = strings.Replace(path, "{"+p.Name+"}", url.PathEscape(v), 1)
						target = strings.NewReplacer("{id}", c.ID, "{name}", "arrests").Replace(target)
					case "query":
						q.Set(p.Name, v)
					case "header":
						r.headers[p.Name] = v
					}
					r.path = target
					if len(q) > 0 {
						r.path += "?" + q.Encode()
					}
					var got *response
					if strings.HasSuffix(path, "/live") {
						got = s.streamStatus(t, r)
					} else {
						got = s.do(t, r)
					}
					if got.Status != http.StatusBadRequest {
						t.Errorf("%s %s: %s = %.40q… (%d characters): status %d, want 400; %s", method, path, p.Name, v, len(v), got.Status, got.Body)
						continue
					}
					if pr := got.problem(t); pr.Field != p.Name || pr.Type != "/problems/invalid-parameter" {
						t.Errorf("%s %s: %s past its bound: problem %+v, want invalid-parameter naming %s", method, path, p.Name, pr, p.Name)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d parameter bounds checked", checked)
	if checked < 40 {
		t.Errorf("only %d parameter bounds checked", checked)
	}
}

// boundsCase is a case whose events can take every event type's data.
type boundsCase struct {
	id, person, group, retractable string
}

// validData is a valid data object of each event type on the case.
func (b boundsCase) validData(typ string) map[string]any {
	return map[string]map[string]any{
		"AgencyJoined":              {"agency": agencyFrench},
		"OrganisedCrimeGroupLinked": {"group_id": uuid.NewString(), "name": "Another network"},
		"SuspectIdentified":         {"person_id": uuid.NewString(), "name": "A. Person", "date_of_birth": "1980-01-02", "nationality": "French"},
		"IntelligenceLogged":        {"summary": "Seen at Coquelles", "grading": "2B1"},
		"ArrestMade":                {"person_id": b.person, "location": "Dover", "offence": "Facilitation"},
		"SuspectCharged":            {"person_id": b.person, "charges": []any{"Facilitation"}},
		"SeizureRecorded":           {"commodity": "cannabis", "quantity": 12.5, "unit": "kg", "location": "Dover", "exhibit_ref": "EX-1"},
		"StowawaysDetected":         {"location": "Coquelles", "method": "co2_probe", "people": 3, "vehicle": "HGV"},
		"GangDismantled":            {"group_id": b.group},
		"CaseClosed":                {"outcome": "Convictions"},
		"CaseReopened":              {"reason": "New evidence"},
		"EntryRetracted":            {"event_id": b.retractable, "reason": "Logged in error"},
		"CaseOpened":                {"reference": "X", "title": "X", "lead_agency": agencyUKBA, "crime_types": []any{"cash"}, "location": "Dover"},
	}[typ]
}

// exactly is a text of n characters, distinct for each i.
func exactly(n, i int) string {
	d := strconv.Itoa(i)
	if len(d) >= n {
		return strings.Repeat("x", n)
	}
	return strings.Repeat("x", n-len(d)) + d
}

// fieldBounds yields, for each bounded property of an object schema, a
// value one past its bound and (for plain text, arrays and integers) one
// at it.
func fieldBounds(props openapi3.Schemas, i *int) (over, at map[string][]any) {
	over, at = map[string][]any{}, map[string][]any{}
	for name, ref := range props {
		s := ref.Value
		*i++
		if len(s.OneOf) > 0 { // a quantity: a number or a string
			for _, alt := range s.OneOf {
				if alt.Value.Type.Is("number") && alt.Value.Max != nil {
					over[name] = append(over[name], *alt.Value.Max+1)
					at[name] = append(at[name], *alt.Value.Max)
				}
				if alt.Value.Type.Is("string") && alt.Value.MaxLength != nil {
					over[name] = append(over[name], "1."+strings.Repeat("0", int(*alt.Value.MaxLength)-1))
				}
			}
			continue
		}
		switch {
		case s.Type.Is("string") && s.MaxLength != nil:
			n := int(*s.MaxLength)
			over[name] = append(over[name], exactly(n+1, *i))
			if s.Pattern == "" && s.Format == "" && len(s.Enum) == 0 {
				at[name] = append(at[name], exactly(n, *i))
			}
		case s.Type.Is("integer") && s.Max != nil:
			over[name] = append(over[name], *s.Max+1)
			at[name] = append(at[name], *s.Max)
		case s.Type.Is("array") && s.MaxItems != nil:
			n := int(*s.MaxItems)
			var more []any
			if e := s.Items.Value.Enum; len(e) > 0 {
				more = append(slices.Clone(e), e[0]) // every value, and one twice
				at[name] = append(at[name], e)
			} else {
				for k := range n + 1 {
					more = append(more, fmt.Sprintf("Charge %d", k))
				}
				at[name] = append(at[name], more[:n])
			}
			over[name] = append(over[name], more)
		}
	}
	return over, at
}

func TestEveryDocumentedBodyBoundIsEnforced(t *testing.T) {
	s := startServer(t)
	doc := contract(t).Doc
	c := s.openCase(t, invUKBA, "UKBA-BOUNDS-B")
	b := boundsCase{id: c.ID, person: uuid.NewString(), group: uuid.NewString()}
	s.record(t, invUKBA, c.ID, map[string]any{"type": "SuspectIdentified", "data": map[string]any{"person_id": b.person, "name": "A. Suspect"}})
	s.record(t, invUKBA, c.ID, map[string]any{"type": "OrganisedCrimeGroupLinked", "data": map[string]any{"group_id": b.group, "name": "A network"}})
	b.retractable = s.record(t, invUKBA, c.ID, intelligence("To retract")).ID

	i, overs, ats := 0, 0, 0
	refuses := func(what string, r *response, field string) {
		t.Helper()
		overs++
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422; %s", what, r.Status, r.Body)
			return
		}
		if p := r.problem(t); p.Field != field && !strings.HasSuffix(p.Field, "."+field) {
			t.Errorf("%s: problem names field %q, want %s", what, p.Field, field)
		}
	}
	accepts := func(what string, r *response) {
		t.Helper()
		ats++
		if r.Status != http.StatusCreated {
			t.Errorf("%s at its bound: status %d, want 201; %s", what, r.Status, r.Body)
		}
	}

	// Opening a case: every field.
	open := doc.Components.Schemas["OpenCaseRequest"].Value
	over, at := fieldBounds(open.Properties, &i)
	for field, values := range over {
		for _, v := range values {
			body := map[string]any{"reference": exactly(20, i), "title": "t", "crime_types": []any{"cash"}, "location": "Dover", field: v}
			refuses("POST /v1/cases "+field, s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: body}), field)
		}
	}
	for field, values := range at {
		for _, v := range values {
			i++
			body := map[string]any{"reference": exactly(20, i), "title": "t", "crime_types": []any{"cash"}, "location": "Dover", field: v}
			accepts("POST /v1/cases "+field, s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: body}))
		}
	}

	// Recording an event: the envelope, then each type's data. Past the
	// bounds first (nothing is written), then at them, closing and
	// reopening the case last.
	post := func(body map[string]any) *response {
		return s.do(t, req{method: "POST", path: "/v1/cases/" + c.ID + "/events", as: invUKBA, body: body})
	}
	for _, f := range []struct{ field, value string }{{"id", uuid.NewString() + "0"}, {"occurred_at", "2011-06-06T09:30:00.1234567890+01:00"}} {
		body := intelligence("envelope")
		body[f.field] = f.value
		refuses("POST events "+f.field, post(body), f.field)
	}
	types := map[string]*openapi3.Schema{}
	for _, branch := range doc.Components.Schemas["RecordEventRequest"].Value.OneOf {
		typ := branch.Value.Properties["type"].Value.Const.(string)
		types[typ] = branch.Value.Properties["data"].Value
	}
	if len(types) != 14 {
		t.Fatalf("%d event types documented", len(types))
	}
	atBound := map[string]map[string][]any{}
	for typ, schema := range types {
		if typ == "CaseOpened" || typ == "RetentionReviewed" {
			// opened with POST /v1/cases; reviewed by a dpo on a closed
			// case (the retention tests check its bounds)
			continue
		}
		over, at := fieldBounds(schema.Properties, &i)
		atBound[typ] = at
		for field, values := range over {
			for _, v := range values {
				data := b.validData(typ)
				data[field] = v
				refuses(fmt.Sprintf("%s %s (%.30v…)", typ, field, v), post(map[string]any{"type": typ, "data": data}), field)
			}
		}
	}
	for _, typ := range []string{"AgencyJoined", "OrganisedCrimeGroupLinked", "SuspectIdentified", "IntelligenceLogged", "ArrestMade",
		"SuspectCharged", "SeizureRecorded", "StowawaysDetected", "EntryRetracted", "CaseClosed", "CaseReopened"} {
		for field, values := range atBound[typ] {
			for _, v := range values {
				data := b.validData(typ)
				data[field] = v
				accepts(typ+" "+field, post(map[string]any{"type": typ, "data": data}))
			}
		}
	}
	t.Logf("%d body bounds refused one past, %d accepted at the bound", overs, ats)
	if overs < 35 || ats < 20 {
		t.Errorf("only %d bounds checked past, %d at", overs, ats)
	}
}

// follow reads a list to its end by its `next` URLs, checking that each
// page's Link header names the same URL, and returns the items' count.
func (s *server) follow(t *testing.T, as, first, items string) (n, pages int) {
	t.Helper()
	path := first
	for pages = 1; ; pages++ {
		r := s.do(t, req{method: "GET", path: path, as: as})
		mustStatus(t, r, http.StatusOK)
		var page map[string]any
		r.decode(t, &page)
		list, _ := page[items].([]any)
		n += len(list)
		next, _ := page["next"].(string)
		link := r.Header.Get("Link")
		if next == "" {
			if link != "" || page["next"] != nil {
				t.Fatalf("%s: last page with next %v and Link %q", path, page["next"], link)
			}
			return n, pages
		}
		if want := "<" + next + `>; rel="next"`; link != want {
			t.Fatalf("%s: Link %q, want %q", path, link, want)
		}
		if pages > 50 {
			t.Fatalf("%s: more than 50 pages", first)
		}
		path = next
	}
}

func TestEveryListLinksItsNextPage(t *testing.T) {
	s := startServer(t)
	var last caseView
	for i := range 5 {
		last = s.openCase(t, invUKBA, fmt.Sprintf("UKBA-PAGES-%d", i))
	}
	c := last.ID
	for i := range 4 {
		s.record(t, invUKBA, c, intelligence(fmt.Sprintf("Note %d", i)))
	}
	// Reads the auditor makes fill the case's access log.
	for range 3 {
		mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c + "?version=0", as: auditor}), http.StatusOK)
		mustStatus(t, s.do(t, req{method: "GET", path: "/v1/cases/" + c + "?version=1", as: auditor}), http.StatusOK)
	}

	for _, tc := range []struct {
		as, first, items string
		want, pages      int
	}{
		// The case list: an opaque cursor; filters carried over.
		{invUKBA, "/v1/cases?limit=2&crime_type=people_smuggling&min_position=9", "cases", 5, 3},
		// A case's history: by version.
		{auditor, "/v1/cases/" + c + "/events?limit=2", "events", 5, 3},
		// The global log: by position; the type filter carried over.
		{auditor, "/v1/events?limit=3&type=CaseOpened,IntelligenceLogged", "events", 9, 3},
		{auditor, "/v1/events?limit=4&type=IntelligenceLogged", "events", 4, 1},
	} {
		n, pages := s.follow(t, tc.as, tc.first, tc.items)
		if n != tc.want || pages != tc.pages {
			t.Errorf("%s: %d %s in %d pages, want %d in %d", tc.first, n, tc.items, pages, tc.want, tc.pages)
		}
	}
	// The access log: by version, the case carried over (the reads above,
	// the history pages and this test's own log reads are all in it).
	n, pages := s.follow(t, auditor, "/v1/access-log?limit=1&case="+c, "entries")
	if n < 2 || pages != n {
		t.Errorf("access log: %d entries in %d pages", n, pages)
	}
}

func TestTimeParametersTakeTheSameFormsEverywhere(t *testing.T) {
	s := startServer(t)
	c := s.openCase(t, invUKBA, "UKBA-TIMES-1")
	tomorrow := "2999-01-01"
	for _, path := range []string{
		"/v1/cases/" + c.ID + "?as_of=" + tomorrow,
		"/v1/cases/" + c.ID + "?as_of=2999-01-01T00:00:00Z",
		"/v1/reports/arrests?as_of=" + tomorrow + "&from=2010-06-07&to=2011-06-07T00:00:00%2B01:00",
	} {
		mustStatus(t, s.do(t, req{method: "GET", path: path, as: auditor}), http.StatusOK)
	}
	// A date means its start in UTC: the case as it stood then is the case
	// as it is now.
	var at caseView
	r := s.do(t, req{method: "GET", path: "/v1/cases/" + c.ID + "?as_of=" + tomorrow, as: auditor})
	r.decode(t, &at)
	if at.Version != c.Version {
		t.Errorf("as_of a date: version %d, want %d", at.Version, c.Version)
	}
	// Every time parameter refuses the same way, naming itself.
	for _, tc := range []struct{ path, field string }{
		{"/v1/cases/" + c.ID + "?as_of=06/06/2011", "as_of"},
		{"/v1/reports/summary?from=yesterday", "from"},
		{"/v1/reports/seizures?to=2011-13-01", "to"},
		{"/v1/reports/detections?as_of=2011-06-06T25:00:00Z", "as_of"},
	} {
		r := s.do(t, req{method: "GET", path: tc.path, as: auditor})
		mustStatus(t, r, http.StatusBadRequest)
		p := r.problem(t)
		if p.Field != tc.field || !strings.Contains(p.Detail, "must be a date like 2010-06-06 (its start, UTC) or an RFC 3339 time") {
			t.Errorf("%s: %+v", tc.path, p)
		}
	}
}

func TestProjectionRoutesTakeTheReportNames(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct{ given, want string }{{"gangs-dismantled", "gangs_dismantled"}, {"gangs_dismantled", "gangs_dismantled"}, {"arrests", "arrests"}} {
		r := s.do(t, req{method: "POST", path: "/v1/projections/" + tc.given + "/rebuild", as: admin})
		mustStatus(t, r, http.StatusAccepted)
		var got struct{ Name string }
		r.decode(t, &got)
		if got.Name != tc.want {
			t.Errorf("rebuild %s: name %q, want %q", tc.given, got.Name, tc.want)
		}
	}
	r := s.do(t, req{method: "POST", path: "/v1/projections/gangs/rebuild", as: admin})
	mustStatus(t, r, http.StatusNotFound)
	if p := r.problem(t); p.Code != "unknown_projection" || !strings.Contains(p.Detail, "gangs_dismantled") {
		t.Errorf("unknown projection: %+v", p)
	}
}

func TestCORSAllowsOnlyTheConfiguredOrigins(t *testing.T) {
	const allowed = "https://cases.example.org"
	s := startServer(t, func(c *main.Config) { c.CORSOrigins = []string{allowed} })
	preflight := func(origin string) *http.Response {
		hr, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, s.url+"/v1/cases", nil)
		hr.Header.Set("Origin", origin)
		hr.Header.Set("Access-Control-Request-Method", "POST")
		hr.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := s.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(allowed)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight from %s: %d %v", allowed, resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == http.StatusNoContent {
		t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
	r := s.do(t, req{method: "GET", path: "/v1/cases", as: auditor, headers: map[string]string{"Origin": allowed}})
	mustStatus(t, r, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != allowed || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Link") {
		t.Errorf("answer to %s: %v", allowed, r.Header)
	}
	r = s.do(t, req{method: "GET", path: "/v1/cases", as: auditor, headers: map[string]string{"Origin": "https://evil.example"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("answer to another origin: %v", r.Header)
	}
	// By default, no CORS at all.
	plain := startServer(t)
	r = plain.do(t, req{method: "GET", path: "/v1/cases", as: auditor, headers: map[string]string{"Origin": allowed}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS without --cors-origin: %v", r.Header)
	}
}

func TestProblemsEchoBoundedText(t *testing.T) {
	s := startServer(t)
	long := strings.Repeat("k", 5000)
	r := s.do(t, req{method: "POST", path: "/v1/cases", as: invUKBA, body: `{"` + long + `":1}`})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	p := r.problem(t)
	if n := len([]rune(p.Field)); n > 200 || !strings.HasPrefix(p.Field, "kkk") {
		t.Errorf("field of %d characters", n)
	}
	if n := len([]rune(p.Detail)); n > 2000 {
		t.Errorf("detail of %d characters", n)
	}
	r = s.do(t, req{method: "GET", path: "/" + strings.Repeat("p", 5000), as: anonymous})
	mustStatus(t, r, http.StatusNotFound)
	if p := r.problem(t); len([]rune(p.Instance)) > 2048 || len([]rune(p.Detail)) > 2000 || p.Code != "not_found" {
		t.Errorf("instance of %d, detail of %d characters, code %q", len([]rune(p.Instance)), len([]rune(p.Detail)), p.Code)
	}
}

func TestCORSOriginFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want []string
		bad  bool
	}{
		{nil, "", nil, false},
		{[]string{"--cors-origin", "https://a.example,https://b.example:8443"}, "", []string{"https://a.example", "https://b.example:8443"}, false},
		{[]string{"--cors-origin", "https://a.example", "--cors-origin", "http://127.0.0.1:3000"}, "https://env.example", []string{"https://a.example", "http://127.0.0.1:3000"}, false},
		{nil, "https://env.example", []string{"https://env.example"}, false},
		{[]string{"--cors-origin", "https://a.example/app"}, "", nil, true},
		{[]string{"--cors-origin", "*"}, "", nil, true},
	} {
		m := main.NewMain()
		err := m.ParseFlags(tc.args, func(k string) string {
			if k == "CASEBOOK_CORS_ORIGIN" {
				return tc.env
			}
			return ""
		})
		if (err != nil) != tc.bad || (!tc.bad && !slices.Equal(m.Config.CORSOrigins, tc.want)) {
			t.Errorf("%v (env %q): origins %v, error %v", tc.args, tc.env, m.Config.CORSOrigins, err)
		}
	}
}
