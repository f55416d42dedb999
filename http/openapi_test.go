package casehttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/goccy/go-yaml"

	"github.com/casebook/casebook/core"
	"github.com/casebook/casebook/domain"
	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/http/apitest"
	"github.com/casebook/casebook/projections"
)

// The contract is a file, so nothing ties its lists to the code's but this
// test: every enum it documents is the list the server checks against.
func TestContractNamesTheCodesLists(t *testing.T) {
	c, err := apitest.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Doc.Components.Schemas
	prop := func(schema string, path ...string) *openapi3.Schema {
		t.Helper()
		v := s[schema].Value
		for _, p := range path {
			if p == "[]" {
				v = v.Items.Value
				continue
			}
			ref, ok := v.Properties[p]
			if !ok {
				t.Fatalf("%s has no %s", schema, strings.Join(path, "."))
			}
			v = ref.Value
		}
		return v
	}
	param := func(method, path, name string) *openapi3.Schema {
		t.Helper()
		op := c.Doc.Paths.Find(path).GetOperation(method)
		for _, p := range op.Parameters {
			if p.Value.Name == name {
				return p.Value.Schema.Value
			}
		}
		t.Fatalf("%s %s has no parameter %s", method, path, name)
		return nil
	}
	var problemURIs, problemSlugs []string
	for _, p := range casehttp.ProblemTypes {
		problemURIs, problemSlugs = append(problemURIs, p.URI()), append(problemSlugs, p.Slug)
	}
	var recordable []string
	for _, b := range s["RecordEventRequest"].Value.OneOf {
		recordable = append(recordable, b.Value.Properties["type"].Value.Const.(string))
		if name := b.Value.Properties["data"].Ref; name != "#/components/schemas/"+recordable[len(recordable)-1]+"Data" {
			t.Errorf("%s's data is %s", recordable[len(recordable)-1], name)
		}
	}
	for _, tc := range []struct {
		what string
		doc  *openapi3.Schema
		code []string
	}{
		{"problem types", prop("Problem", "type"), problemURIs},
		{"problem slugs", param("GET", "/problems/{slug}", "slug"), problemSlugs},
		{"event types", prop("Event", "type"), domain.EventTypes()},
		{"retracted types", prop("Case", "retractions", "[]", "type"), domain.EventTypes()},
		{"roles", prop("Actor", "role"), core.Roles},
		{"access-log roles", prop("AccessLogEntry", "role"), core.Roles},
		{"crime types", prop("OpenCaseRequest", "crime_types", "[]"), domain.CrimeTypes},
		{"crime type filter", param("GET", "/v1/cases", "crime_type"), domain.CrimeTypes},
		{"status filter", param("GET", "/v1/cases", "status"), []string{domain.StatusOpen, domain.StatusClosed}},
		{"commodities", prop("SeizureRecordedData", "commodity"), domain.Commodities},
		{"units", prop("SeizureRecordedData", "unit"), domain.Units},
		{"methods", prop("StowawaysDetectedData", "method"), domain.Methods},
		{"access operations", prop("AccessLogEntry", "operation"), domain.AccessOperations},
		{"purposes", prop("AccessLogEntry", "purpose"), append([]string{""}, domain.Purposes...)}, // "": entries from before purposes
		{"projections", prop("ProjectionStatus", "name"), projections.Names()},
		{"projection states", prop("ProjectionStatus", "state"),
			[]string{projections.StateCatchingUp, projections.StateLive, projections.StateRebuilding, projections.StateFailed}},
		{"rebuild names", param("POST", "/v1/projections/{name}/rebuild", "name"),
			append(projections.Names(), core.ReportGangsDismantled, "case-list", "retention-reviews", "access-log")},
	} {
		if got := enumOf(tc.doc); !sameSet(got, tc.code) {
			t.Errorf("%s: the contract lists %v, the code %v", tc.what, got, tc.code)
		}
	}
	// PersonErased is recorded only through the erasure route, with its
	// key's destruction: POST /v1/cases/{id}/events refuses it.
	want := slices.DeleteFunc(domain.EventTypes(), func(t string) bool { return t == domain.TypePersonErased })
	if !sameSet(recordable, want) {
		t.Errorf("RecordEventRequest has %v, the code %v", recordable, want)
	}
	for report, keys := range projections.GroupByKeys {
		path := "/v1/reports/" + report
		if len(keys) == 0 {
			for _, p := range c.Doc.Paths.Find(path).Get.Parameters {
				if p.Value.Name == "group_by" {
					t.Errorf("%s documents group_by; it has no groups", path)
				}
			}
			continue
		}
		if got := enumOf(param("GET", path, "group_by")); !sameSet(got, keys) {
			t.Errorf("%s group_by: the contract lists %v, the code %v", path, got, keys)
		}
	}
	// Each report documents the filters it takes, and no other.
	for report, filters := range projections.FilterKeys {
		var documented []string
		for _, p := range c.Doc.Paths.Find("/v1/reports/" + report).Get.Parameters {
			if p.Value.Name == "agency" || p.Value.Name == "location" {
				documented = append(documented, p.Value.Name)
			}
		}
		if !sameSet(documented, filters) {
			t.Errorf("/v1/reports/%s documents the filters %v, the code takes %v", report, documented, filters)
		}
	}
	if got := param("GET", "/v1/reports/arrests", "location").MaxLength; got == nil || int(*got) != domain.MaxPlaceCodeLength {
		t.Errorf("location filter maxLength %v, want %d", got, domain.MaxPlaceCodeLength)
	}
	// Text bounds are the domain's.
	for _, tc := range []struct {
		schema, field string
		max           int
	}{
		{"OpenCaseRequest", "reference", domain.MaxReferenceLength}, {"OpenCaseRequest", "title", domain.MaxNameLength},
		{"IntelligenceLoggedData", "summary", domain.MaxTextLength}, {"CaseClosedData", "outcome", domain.MaxReasonLength},
		{"SeizureRecordedData", "exhibit_ref", domain.MaxReferenceLength},
	} {
		if got := prop(tc.schema, tc.field).MaxLength; got == nil || int(*got) != tc.max {
			t.Errorf("%s.%s maxLength %v, want %d", tc.schema, tc.field, got, tc.max)
		}
	}
	if got := prop("SuspectChargedData", "charges").MaxItems; got == nil || int(*got) != domain.MaxCharges {
		t.Errorf("charges maxItems %v, want %d", got, domain.MaxCharges)
	}
}

func enumOf(s *openapi3.Schema) []string {
	var out []string
	for _, v := range s.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestServedDocumentsAreTheFile(t *testing.T) {
	s := newStack(t)
	w := s.serve("GET", "/openapi.yaml", "", nil)
	if w.Code != http.StatusOK || w.Body.String() != string(casehttp.OpenAPIYAML()) {
		t.Fatalf("/openapi.yaml: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = s.serve("GET", "/openapi.json", "", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(w.Body.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(casehttp.OpenAPIYAML())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &fromYAML); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if string(a) != string(b) {
		t.Error("/openapi.json is not openapi.yaml")
	}
	doc := fromJSON.(map[string]any)
	if doc["openapi"] != "3.1.0" || doc["info"].(map[string]any)["version"] == "" {
		t.Errorf("openapi %v, info %v", doc["openapi"], doc["info"])
	}
}
