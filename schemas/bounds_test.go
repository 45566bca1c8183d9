package schemas_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/schemas"
)

// TestRequestTextIsBounded proves every free-text field of every request
// schema has a maximum length: a string that is not an enum, a constant or a
// format (uuid, date-time) must declare maxLength, so an over-long value is
// rejected at every edge that validates (gateway, CLI, worker runtime).
func TestRequestTextIsBounded(t *testing.T) {
	t.Parallel()
	for _, d := range events.Catalog() {
		if d.Kind != events.KindRequest {
			continue
		}
		b, err := schemas.FS.ReadFile(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, path := range unboundedStrings(doc, "") {
			t.Errorf("%s: string at %s has no maxLength", d.Schema, path)
		}
	}
}

func unboundedStrings(n any, path string) []string {
	var out []string
	switch n := n.(type) {
	case map[string]any:
		if isString(n["type"]) {
			_, enum := n["enum"]
			_, cnst := n["const"]
			_, format := n["format"]
			_, max := n["maxLength"]
			if !enum && !cnst && !format && !max {
				out = append(out, cmpOr(path, "/"))
			}
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "examples" {
				continue
			}
			out = append(out, unboundedStrings(n[k], path+"/"+k)...)
		}
	case []any:
		for i, v := range n {
			out = append(out, unboundedStrings(v, fmt.Sprintf("%s/%d", path, i))...)
		}
	}
	return out
}

func isString(t any) bool {
	switch t := t.(type) {
	case string:
		return t == "string"
	case []any:
		for _, v := range t {
			if v == "string" {
				return true
			}
		}
	}
	return false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestOverLongTextRejected shows the bounds at work: one character over
// each documented maximum is rejected with a reason that names the limit.
func TestOverLongTextRejected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, typ, field string
		max              int
		data             func(s string) string
	}{
		{"connection name", events.TypeOnboardRequested, "connection_name", schemas.MaxNameLength,
			func(s string) string {
				return `{"source_type":"Salesforce","connection_name":"` + s + `","credential_id":"c"}`
			}},
		{"credential id", events.TypeOnboardRequested, "credential_id", schemas.MaxNameLength,
			func(s string) string {
				return `{"source_type":"Salesforce","connection_name":"n","credential_id":"` + s + `"}`
			}},
		{"stream name", events.TypeOnboardRequested, "streams[0]", schemas.MaxIdentifierLength,
			func(s string) string {
				return `{"source_type":"Salesforce","connection_name":"n","credential_id":"c","streams":["` + s + `"]}`
			}},
		{"repair reason", events.TypeRepairRequested, "reason", schemas.MaxReasonLength,
			func(s string) string {
				return `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","reason":"` + s + `",
				"new_sync_catalog":{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh"]},
				"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}}`
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := schemas.Validate(tc.typ, []byte(tc.data(strings.Repeat("é", tc.max)))); err != nil {
				t.Fatalf("%d characters (multi-byte) rejected: %v", tc.max, err)
			}
			err := schemas.Validate(tc.typ, []byte(tc.data(strings.Repeat("x", tc.max+1))))
			ve, ok := err.(*schemas.ValidationError)
			if !ok {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if ve.Field != tc.field || ve.Reason != fmt.Sprintf("must be at most %d characters long", tc.max) {
				t.Fatalf("got %s: %s", ve.Field, ve.Reason)
			}
		})
	}
}
