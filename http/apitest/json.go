package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("apitest: decoding %q: %w", b, err)
	}
	return nil
}

// brief says what went wrong without the schema and value dumps of
// kin-openapi's messages: the reason and where.
func brief(err error) string {
	var parts []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e)
			}
			return
		}
		var re *openapi3filter.RequestError
		var rse *openapi3filter.ResponseError
		var se *openapi3.SchemaError
		where := ""
		switch {
		case errors.As(err, &re) && re.Parameter != nil:
			where = re.Parameter.In + " parameter " + re.Parameter.Name + ": "
		case errors.As(err, &re) && re.RequestBody != nil:
			where = "request body: "
		case errors.As(err, &rse):
			where = "answer: "
		}
		if errors.As(err, &se) {
			parts = append(parts, fmt.Sprintf("%s%s at /%s", where, se.Reason, strings.Join(se.JSONPointer(), "/")))
			return
		}
		msg := err.Error()
		if i := strings.Index(msg, "\nSchema:"); i > 0 {
			msg = msg[:i]
		}
		parts = append(parts, where+msg)
	}
	walk(err)
	return strings.Join(parts, "; ")
}
