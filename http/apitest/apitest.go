// Package apitest checks HTTP exchanges against Casebook's contract,
// http/openapi.yaml, with kin-openapi: it finds the operation a request
// matches, validates the request (parameters, headers, body) and the answer
// (status, headers, body) against it, and counts what it validated.
//
// It is test support for casebookd's end-to-end tests and the casehttp
// tests, kept out of _test files so that both can import it.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	casehttp "github.com/casebook/casebook/http"
)

func init() {
	// The live log's stream is text; its events are checked by the tests
	// that read it.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// ErrNoOperation is returned by Check for a request that matches no
// documented operation (an unknown route or method).
var ErrNoOperation = errors.New("apitest: no documented operation matches the request")

// Contract is the loaded document with a router over its operations.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
}

// The counts of every Contract of the test binary, for its closing report
// (Report).
var (
	validated atomic.Int64 // requests and answers that matched the document
	refused   atomic.Int64 // requests outside the document, answered 4xx
)

// Load reads and validates http/openapi.yaml (as embedded in casehttp).
func Load(ctx context.Context) (*Contract, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(casehttp.OpenAPIYAML())
	if err != nil {
		return nil, fmt.Errorf("apitest: loading openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("apitest: openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// Match paths whatever address the server under test listens on: the
	// document's server is a relative URL.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("apitest: routing openapi.yaml: %w", err)
	}
	return &Contract{Doc: doc, router: router}, nil
}

// Operations lists every documented operation as "METHOD /template".
func (c *Contract) Operations() []string {
	var out []string
	for path, item := range c.Doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// Counts are how many exchanges Check validated in this test binary:
// requests within the document whose answers matched it, and requests
// outside it (bad input sent on purpose) that were answered with a
// documented 4xx problem.
func Counts() (ok, outside int64) {
	return validated.Load(), refused.Load()
}

// Report is the test log line stating the counts; with the environment
// variable CASEBOOK_CONTRACT_REPORT naming a file, the line is also
// appended to it, so that ./scripts/test.sh can show it (go test shows
// nothing of a passing package but its ok line).
func Report(pkg string) string {
	ok, outside := Counts()
	line := fmt.Sprintf("contract: %s: %d requests validated against http/openapi.yaml (kin-openapi): %d within it, answered as documented; %d outside it, answered with a documented 4xx",
		pkg, ok+outside, ok, outside)
	if path := os.Getenv("CASEBOOK_CONTRACT_REPORT"); path != "" && ok+outside > 0 {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = fmt.Fprintln(f, line)
			_ = f.Close()
		}
	}
	return line
}

// Exchange is one request and its answer.
type Exchange struct {
	Request     *http.Request // its Body is not read: RequestBody holds it
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check validates an exchange. A request the document does not allow must
// be answered 4xx; one it allows must be answered as the document says.
// Either way the answer's status, headers and body must be documented for
// the operation. ErrNoOperation: the request matches no operation.
func (c *Contract) Check(ctx context.Context, x Exchange) error {
	route, params, err := c.router.FindRoute(x.Request)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrNoOperation, x.Request.Method, x.Request.URL.Path, err)
	}
	req := x.Request.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	reqInput := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	reqErr := openapi3filter.ValidateRequest(ctx, reqInput)
	if reqErr != nil && (x.Status < 400 || x.Status >= 500) {
		return fmt.Errorf("%s %s: the request is outside the contract (%s) but was answered %d", x.Request.Method, x.Request.URL, brief(reqErr), x.Status)
	}
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 x.Status,
		Header:                 x.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	respInput.SetBodyBytes(x.Body)
	if err := openapi3filter.ValidateResponse(ctx, respInput); err != nil {
		return fmt.Errorf("%s %s: answer %d does not match the contract: %s", x.Request.Method, x.Request.URL, x.Status, brief(err))
	}
	if reqErr != nil {
		refused.Add(1)
	} else {
		validated.Add(1)
	}
	return nil
}

// CheckProblem validates a body against the Problem schema: the answer to a
// request that matches no operation (404 or 405).
func (c *Contract) CheckProblem(body []byte) error {
	s, ok := c.Doc.Components.Schemas["Problem"]
	if !ok {
		return errors.New("apitest: no Problem schema")
	}
	var v any
	if err := decodeJSON(body, &v); err != nil {
		return err
	}
	if err := s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("apitest: not a Problem: %s", brief(err))
	}
	validated.Add(1)
	return nil
}
