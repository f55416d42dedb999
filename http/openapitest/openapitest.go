// Package openapitest checks HTTP answers against an OpenAPI 3.1 document:
// it finds the operation a request matched, the response documented for the
// status, and validates the body against its schema. It implements the
// subset of JSON Schema that Casebook's document uses (type, properties,
// required, additionalProperties, items, enum, const, minimum, maximum,
// format uuid/date-time/date, pattern, oneOf, anyOf, allOf, $ref) and
// refuses any other keyword, so that the document cannot rely on something
// the checker silently ignores.
//
// It is test support (used by casebookd's end-to-end tests and the casehttp
// tests), kept out of _test files so that both can import it.
package openapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Document is a parsed OpenAPI document.
type Document struct {
	root      map[string]any
	templates []string
}

// Load parses an OpenAPI document and checks that every $ref in it
// resolves and every schema uses only supported keywords.
func Load(b []byte) (*Document, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("openapitest: %w", err)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		return nil, fmt.Errorf("openapitest: openapi version %q, want 3.1.x", v)
	}
	paths, ok := root["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("openapitest: no paths")
	}
	d := &Document{root: root}
	for t := range paths {
		d.templates = append(d.templates, t)
	}
	sort.Strings(d.templates)
	if err := d.checkRefs(root, "#"); err != nil {
		return nil, err
	}
	return d, nil
}

// Operations lists every documented "METHOD /template".
func (d *Document) Operations() []string {
	var out []string
	paths := d.root["paths"].(map[string]any)
	for _, t := range d.templates {
		item, _ := paths[t].(map[string]any)
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out = append(out, strings.ToUpper(m)+" "+t)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Operation returns the operation object of METHOD /template.
func (d *Document) Operation(method, template string) (map[string]any, bool) {
	paths := d.root["paths"].(map[string]any)
	item, ok := paths[template].(map[string]any)
	if !ok {
		return nil, false
	}
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// Match finds the path template a concrete path matches, preferring the
// template with the most literal segments.
func (d *Document) Match(path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, bestLiterals := "", -1
	for _, t := range d.templates {
		ts := strings.Split(t, "/")
		if len(ts) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if ts[i] != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = t, literals
		}
	}
	return best, bestLiterals >= 0
}

// ErrNoOperation is returned by CheckResponse when no documented operation
// matches the request (an unknown route or method).
var ErrNoOperation = errors.New("no documented operation")

// ValidateSchema validates a JSON body against a named component schema
// (#/components/schemas/<name>).
func (d *Document) ValidateSchema(name string, body []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return d.Validate(map[string]any{"$ref": "#/components/schemas/" + name}, v)
}

// CheckResponse validates one answer: the status must be documented for the
// operation (or covered by "default"), the content type must be one the
// response lists, and a JSON body must validate against its schema.
func (d *Document) CheckResponse(method, path string, status int, contentType string, body []byte) error {
	tmpl, ok := d.Match(path)
	if !ok {
		return fmt.Errorf("%s %s: %w (no path matches)", method, path, ErrNoOperation)
	}
	op, ok := d.Operation(method, tmpl)
	if !ok {
		return fmt.Errorf("%s %s: %w (%s is documented without %s)", method, path, ErrNoOperation, tmpl, method)
	}
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)]
	if !ok {
		if resp, ok = responses["default"]; !ok {
			return fmt.Errorf("%s %s: status %d is not documented", method, tmpl, status)
		}
	}
	r, err := d.resolve(resp)
	if err != nil {
		return err
	}
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("%s %s %d: body not documented", method, tmpl, status)
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s %s %d: content type %q: %w", method, tmpl, status, contentType, err)
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s %d: content type %s not documented", method, tmpl, status, mt)
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s %s %d: body is not JSON: %w", method, tmpl, status, err)
	}
	if err := d.Validate(media["schema"], v); err != nil {
		return fmt.Errorf("%s %s %d: %w", method, tmpl, status, err)
	}
	return nil
}

// Validate checks a decoded JSON value (decoded with UseNumber) against a
// schema of the document.
func (d *Document) Validate(schema, v any) error { return d.validate(schema, v, "$") }

// resolve follows a $ref (to any JSON pointer inside the document).
func (d *Document) resolve(node any) (map[string]any, error) {
	m, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema node is %T, not an object", node)
	}
	for range 32 {
		r, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		target, err := d.pointer(r)
		if err != nil {
			return nil, err
		}
		if m, ok = target.(map[string]any); !ok {
			return nil, fmt.Errorf("$ref %s is not an object", r)
		}
	}
	return nil, errors.New("$ref chain too long")
}

func (d *Document) pointer(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q: only local refs are supported", ref)
	}
	var node any = d.root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if node, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return node, nil
}

func (d *Document) checkRefs(node any, at string) error {
	switch n := node.(type) {
	case map[string]any:
		if r, ok := n["$ref"].(string); ok {
			if _, err := d.pointer(r); err != nil {
				return fmt.Errorf("openapitest: at %s: %w", at, err)
			}
		}
		for k, v := range n {
			if err := d.checkRefs(v, at+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		for i, v := range n {
			if err := d.checkRefs(v, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

var annotationKeywords = map[string]bool{
	"description": true, "title": true, "example": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true,
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, ok := new(big.Int).SetString(x.String(), 10); ok {
			return "integer"
		}
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(want, got string) bool {
	return want == got || (want == "number" && got == "integer")
}

func (d *Document) validate(schemaNode, v any, at string) error {
	schema, err := d.resolve(schemaNode)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	for k := range schema {
		switch k {
		case "$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "const",
			"minimum", "maximum", "format", "pattern", "oneOf", "anyOf", "allOf":
		default:
			if !annotationKeywords[k] {
				return fmt.Errorf("%s: schema keyword %q is not supported by this checker", at, k)
			}
		}
	}
	got := jsonType(v)
	if t, ok := schema["type"]; ok {
		var wants []string
		switch tt := t.(type) {
		case string:
			wants = []string{tt}
		case []any:
			for _, x := range tt {
				s, _ := x.(string)
				wants = append(wants, s)
			}
		}
		ok := false
		for _, w := range wants {
			if typeMatches(w, got) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("%s: is %s, want %s", at, got, strings.Join(wants, " or "))
		}
	}
	if e, ok := schema["enum"].([]any); ok {
		found := false
		for _, x := range e {
			if jsonEqual(x, v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, e)
		}
	}
	if c, ok := schema["const"]; ok && !jsonEqual(c, v) {
		return fmt.Errorf("%s: %v is not %v", at, v, c)
	}
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		if m, ok := schema["minimum"].(json.Number); ok {
			if mf, _ := m.Float64(); f < mf {
				return fmt.Errorf("%s: %v < minimum %v", at, n, m)
			}
		}
		if m, ok := schema["maximum"].(json.Number); ok {
			if mf, _ := m.Float64(); f > mf {
				return fmt.Errorf("%s: %v > maximum %v", at, n, m)
			}
		}
	}
	if s, ok := v.(string); ok {
		if f, ok := schema["format"].(string); ok {
			if err := checkFormat(f, s); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
		if p, ok := schema["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: bad pattern %q: %w", at, p, err)
			}
			if !re.MatchString(s) {
				return fmt.Errorf("%s: %q does not match %s", at, s, p)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				if _, present := obj[name]; !present {
					return fmt.Errorf("%s: required property %q is missing", at, name)
				}
			}
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if ps, ok := props[k]; ok {
				if err := d.validate(ps, obj[k], at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not documented", at, k)
				}
			case map[string]any:
				if err := d.validate(ap, obj[k], at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := schema["items"]; ok {
			for i, x := range arr {
				if err := d.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			if err := d.validate(s, v, at); err != nil {
				return err
			}
		}
	}
	if anyOf, ok := schema["anyOf"].([]any); ok {
		var errs []error
		for _, s := range anyOf {
			err := d.validate(s, v, at)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err)
		}
		if errs != nil {
			return fmt.Errorf("%s: matches none of anyOf: %w", at, errors.Join(errs...))
		}
	}
	if oneOf, ok := schema["oneOf"].([]any); ok {
		matches := 0
		var errs []error
		for _, s := range oneOf {
			if err := d.validate(s, v, at); err == nil {
				matches++
			} else {
				errs = append(errs, err)
			}
		}
		if matches != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want exactly 1: %w", at, matches, errors.Join(errs...))
		}
	}
	return nil
}

func checkFormat(format, s string) error {
	switch format {
	case "uuid":
		if !uuidRE.MatchString(s) {
			return fmt.Errorf("%q is not a lower-case UUID", s)
		}
	case "date-time":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		if _, off := t.Zone(); off != 0 {
			return fmt.Errorf("%q is not in UTC", s)
		}
	case "date":
		if !dateRE.MatchString(s) {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return fmt.Errorf("%q is not a date", s)
		}
	case "uri-reference", "uri":
	default:
		return fmt.Errorf("format %q is not supported by this checker", format)
	}
	return nil
}

// jsonEqual compares decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, _ := an.Float64()
		bf, _ := bn.Float64()
		return af == bf
	}
	return reflect.DeepEqual(a, b)
}
