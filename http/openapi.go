package casehttp

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
)

// The contract is a file: openapi.yaml (OpenAPI 3.1) is the single source
// that clients, linters and the tests read. It is served as written at
// /openapi.yaml and as JSON at /openapi.json. Tests check it against the
// routes gin registers, against the Go lists it names (problem types,
// event types, projections, …) and validate every end-to-end request and
// answer against it.

//go:embed openapi.yaml
var openAPIYAML []byte

var (
	openAPIOnce sync.Once
	openAPIJSON []byte
	openAPIErr  error
)

// OpenAPIYAML returns the OpenAPI document as written.
func OpenAPIYAML() []byte { return openAPIYAML }

// OpenAPI returns the OpenAPI document as JSON, keys in the file's order.
func OpenAPI() ([]byte, error) {
	openAPIOnce.Do(func() {
		j, err := yaml.YAMLToJSON(openAPIYAML)
		if err != nil {
			openAPIErr = fmt.Errorf("casehttp: openapi.yaml: %w", err)
			return
		}
		var out bytes.Buffer
		if err := json.Indent(&out, j, "", "  "); err != nil {
			openAPIErr = fmt.Errorf("casehttp: openapi.yaml as JSON: %w", err)
			return
		}
		openAPIJSON = out.Bytes()
	})
	return openAPIJSON, openAPIErr
}

func serveOpenAPIJSON(c *gin.Context) {
	b, err := OpenAPI()
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}

func serveOpenAPIYAML(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPIYAML)
}
