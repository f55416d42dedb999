package openapitest_test

import (
	"strings"
	"testing"

	casehttp "github.com/casebook/casebook/http"
	"github.com/casebook/casebook/http/openapitest"
)

const miniDoc = `{
  "openapi": "3.1.0",
  "paths": {
    "/things/{id}": {"get": {"responses": {
      "200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
      "404": {"description": "", "content": {"application/problem+json": {"schema": {"type": "object"}}}}
    }}},
    "/things/special": {"get": {"responses": {"200": {"description": ""}}}}
  },
  "components": {"schemas": {"Thing": {
    "type": "object", "additionalProperties": false, "required": ["id", "n"],
    "properties": {
      "id": {"type": "string", "format": "uuid"},
      "n": {"type": "integer", "minimum": 0},
      "at": {"type": ["string", "null"], "format": "date-time"},
      "kind": {"type": "string", "enum": ["a", "b"]},
      "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}
    }
  }}}
}`

func TestCheckResponse(t *testing.T) {
	d, err := openapitest.Load([]byte(miniDoc))
	if err != nil {
		t.Fatal(err)
	}
	const id = "123e4567-e89b-12d3-a456-426614174000"
	good := `{"id":"` + id + `","n":3,"at":null,"kind":"a","tags":["x"]}`
	if err := d.CheckResponse("GET", "/things/"+id, 200, "application/json; charset=utf-8", []byte(good)); err != nil {
		t.Fatalf("valid answer refused: %v", err)
	}
	if tmpl, _ := d.Match("/things/special"); tmpl != "/things/special" {
		t.Errorf("literal path matched %s", tmpl)
	}
	for name, tc := range map[string]struct {
		status      int
		contentType string
		body        string
		want        string
	}{
		"wrong type":          {200, "application/json", `{"id":"` + id + `","n":"3"}`, "is string, want integer"},
		"not an integer":      {200, "application/json", `{"id":"` + id + `","n":1.5}`, "want integer"},
		"below minimum":       {200, "application/json", `{"id":"` + id + `","n":-1}`, "minimum"},
		"missing required":    {200, "application/json", `{"id":"` + id + `"}`, `required property "n"`},
		"undocumented field":  {200, "application/json", `{"id":"` + id + `","n":1,"extra":1}`, `"extra" is not documented`},
		"bad uuid":            {200, "application/json", `{"id":"nope","n":1}`, "not a lower-case UUID"},
		"bad time":            {200, "application/json", `{"id":"` + id + `","n":1,"at":"yesterday"}`, "not an RFC 3339 time"},
		"not UTC":             {200, "application/json", `{"id":"` + id + `","n":1,"at":"2011-06-06T10:00:00+02:00"}`, "not in UTC"},
		"not in enum":         {200, "application/json", `{"id":"` + id + `","n":1,"kind":"c"}`, "is not one of"},
		"pattern":             {200, "application/json", `{"id":"` + id + `","n":1,"tags":["X"]}`, "does not match"},
		"undocumented status": {500, "application/json", `{}`, "status 500 is not documented"},
		"wrong content type":  {404, "application/json", `{}`, "content type application/json not documented"},
		"not JSON":            {200, "application/json", `{`, "not JSON"},
	} {
		err := d.CheckResponse("GET", "/things/"+id, tc.status, tc.contentType, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	if err := d.CheckResponse("POST", "/things/"+id, 200, "application/json", []byte(good)); err == nil {
		t.Error("undocumented method accepted")
	}
}

func TestLoadRefusesBrokenDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"not 3.1":        `{"openapi":"3.0.3","paths":{}}`,
		"dangling $ref":  `{"openapi":"3.1.0","paths":{"/x":{"get":{"responses":{"200":{"$ref":"#/components/responses/Nope"}}}}}}`,
		"not JSON":       `{`,
		"no paths field": `{"openapi":"3.1.0"}`,
	} {
		if _, err := openapitest.Load([]byte(doc)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestUnsupportedKeywordIsRefused(t *testing.T) {
	d, err := openapitest.Load([]byte(`{"openapi":"3.1.0","paths":{},"components":{"schemas":{"S":{"type":"string","maxLength":3}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ValidateSchema("S", []byte(`"abcdef"`)); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("maxLength silently ignored: %v", err)
	}
}

// The real document loads: every $ref resolves.
func TestCasebookDocumentLoads(t *testing.T) {
	d, err := openapitest.Load(casehttp.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Operations()); n < 20 {
		t.Errorf("%d operations", n)
	}
}
