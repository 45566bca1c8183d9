package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/schemas"
)

// schemaDoc is the part of a schema file the tests look at.
type schemaDoc struct {
	Schema               string                     `json:"$schema"`
	ID                   string                     `json:"$id"`
	Title                string                     `json:"title"`
	Description          string                     `json:"description"`
	Type                 string                     `json:"type"`
	Required             []string                   `json:"required"`
	Properties           map[string]json.RawMessage `json:"properties"`
	AdditionalProperties *bool                      `json:"additionalProperties"`
	Examples             []json.RawMessage          `json:"examples"`
}

func readSchema(t *testing.T, name string) schemaDoc {
	t.Helper()
	b, err := schemas.FS.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var d schemaDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return d
}

// TestSchemaFilesMatchCatalog proves every catalog type has its schema file
// and every schema file belongs to a catalog type.
func TestSchemaFilesMatchCatalog(t *testing.T) {
	t.Parallel()
	want := map[string]bool{}
	for _, d := range events.Catalog() {
		want[d.Schema] = true
		doc := readSchema(t, d.Schema)
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %q, want draft 2020-12", d.Schema, doc.Schema)
		}
		if doc.ID != d.DataSchema() {
			t.Errorf("%s: $id %q, want %q", d.Schema, doc.ID, d.DataSchema())
		}
		if doc.Title != d.Type {
			t.Errorf("%s: title %q, want the event type %q", d.Schema, doc.Title, d.Type)
		}
		if doc.Type != "object" || doc.Description == "" {
			t.Errorf("%s: want a described object schema", d.Schema)
		}
		if d.Kind == events.KindRequest && (doc.AdditionalProperties == nil || *doc.AdditionalProperties) {
			t.Errorf("%s: a request schema must set additionalProperties: false", d.Schema)
		}
		for i, ex := range doc.Examples {
			if err := schemas.Validate(d.Type, ex); err != nil {
				t.Errorf("%s: examples[%d] fails its own schema: %v", d.Schema, i, err)
			}
		}
		for name, raw := range doc.Properties {
			var p struct {
				Description string `json:"description"`
				Ref         string `json:"$ref"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			if p.Description == "" && p.Ref == "" {
				t.Errorf("%s: property %s has no description", d.Schema, name)
			}
		}
	}
	got := map[string]bool{}
	names, err := fs.Glob(schemas.FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		got[name] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema files differ from the catalog (-catalog +files):\n%s", diff)
	}
}

// jsonField is a field of a payload struct as encoding/json sees it.
type jsonField struct {
	always bool // not omitempty: always present in the JSON
}

func jsonFields(t *testing.T, v any) map[string]jsonField {
	t.Helper()
	typ := reflect.TypeOf(v)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	out := map[string]jsonField{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if !ok && f.Anonymous && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the payload's own.
			maps.Copy(out, jsonFields(t, reflect.New(f.Type).Interface()))
			continue
		}
		if !ok || tag == "-" || !f.IsExported() {
			t.Fatalf("%s.%s: every payload field needs a json tag", typ.Name(), f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		out[name] = jsonField{always: !slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}

// TestSchemasMatchStructs proves each schema declares exactly the fields of
// its Go payload struct, and requires exactly those the struct always
// writes (the fields without omitempty).
func TestSchemasMatchStructs(t *testing.T) {
	t.Parallel()
	for _, d := range events.Catalog() {
		doc := readSchema(t, d.Schema)
		fields := jsonFields(t, d.New())
		var props, structNames, required, always []string
		for name := range doc.Properties {
			props = append(props, name)
		}
		for name, f := range fields {
			structNames = append(structNames, name)
			if f.always {
				always = append(always, name)
			}
		}
		required = append(required, doc.Required...)
		for _, s := range [][]string{props, structNames, required, always} {
			sort.Strings(s)
		}
		if diff := cmp.Diff(structNames, props); diff != "" {
			t.Errorf("%s: schema properties differ from %T's json fields (-struct +schema):\n%s", d.Schema, d.New(), diff)
		}
		if diff := cmp.Diff(always, required); diff != "" {
			t.Errorf("%s: required properties differ from %T's fields without omitempty (-struct +schema):\n%s", d.Schema, d.New(), diff)
		}
	}
}

func validPath(eventType string) string {
	return filepath.Join("testdata", "valid", eventType+".json")
}

// TestValidExamples decodes testdata/valid/<type>.json of every type into
// its payload struct with unknown fields disallowed, checks that the struct
// marshals back to the file as written (every field, in the struct's order),
// validates the file, and decodes it once more to compare with the struct.
func TestValidExamples(t *testing.T) {
	t.Parallel()
	for _, d := range events.Catalog() {
		t.Run(d.Type, func(t *testing.T) {
			t.Parallel()
			payload := examplePayload(t, d.Type)
			got, err := json.MarshalIndent(payload, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := validPath(d.Type)
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read example: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from the marshalled struct (-want +got):\n%s", path, diff)
			}

			if err := schemas.Validate(d.Type, want); err != nil {
				t.Errorf("the struct's JSON fails its schema: %v", err)
			}

			back := d.New()
			dec := json.NewDecoder(bytes.NewReader(want))
			dec.DisallowUnknownFields()
			if err := dec.Decode(back); err != nil {
				t.Fatalf("decode %s into %T: %v", path, back, err)
			}
			// Marshal both: json.RawMessage fields keep the file's layout.
			a, _ := json.Marshal(payload)
			b, _ := json.Marshal(back)
			if diff := cmp.Diff(string(a), string(b)); diff != "" {
				t.Errorf("decoded example differs from the struct (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidVariants covers valid payloads beyond the golden examples:
// minimal ones and the other catalog form.
func TestValidVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, eventType, data string
	}{
		{"onboard, seed body", events.TypeOnboardRequested,
			`{"source_type": "Salesforce", "connection_name": "Salesforce Production", "credential_id": "salesforce-prod"}`},
		{"onboard, empty stream list", events.TypeOnboardRequested,
			`{"source_type": "Salesforce", "connection_name": "x", "credential_id": "y", "streams": []}`},
		{"repair, seed body", events.TypeRepairRequested,
			`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "new_sync_catalog": ` + seedRepairCatalog + `}`},
		{"repair, configuration API form", events.TypeRepairRequested,
			`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "new_sync_catalog": ` + configAPICatalog + `}`},
		{"repair, both forms in one catalog", events.TypeRepairRequested,
			`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "new_sync_catalog": {"streams": [
				{"stream": {"name": "Account", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite", "cursor_field": [], "primary_key": [["Id"]]},
				{"stream": {"name": "Contact"}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite_dedup", "selected": false}}]}}`},
		{"repair, every destination sync mode", events.TypeRepairRequested,
			`{"connection_id": "A1B2C3D4-E5F6-7890-ABCD-EF1234567890", "new_sync_catalog": {"streams": [
				{"stream": {"name": "a"}, "config": {"syncMode": "incremental", "destinationSyncMode": "append"}},
				{"stream": {"name": "b"}, "config": {"syncMode": "incremental", "destinationSyncMode": "overwrite"}},
				{"stream": {"name": "c"}, "config": {"syncMode": "incremental", "destinationSyncMode": "append_dedup"}},
				{"stream": {"name": "d"}, "config": {"syncMode": "incremental", "destinationSyncMode": "overwrite_dedup"}},
				{"stream": {"name": "e"}, "config": {"syncMode": "incremental", "destinationSyncMode": "update"}},
				{"stream": {"name": "f"}, "config": {"syncMode": "incremental", "destinationSyncMode": "soft_delete"}}]}}`},
		{"sync, only the id", events.TypeSyncRequested, `{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`},
		{"sync failed before a job started", events.TypeSyncFailed,
			`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "status": "failed", "rows_synced": 0, "bytes_synced": 0, "duration_ms": 0, "error_message": "connection is not ACTIVE"}`},
		{"rejected without a readable request", events.TypeRequestRejected,
			`{"subject": "aam.requests.connection.sync", "reason": "not a CloudEvent"}`},
		{"fact with a field added later", events.TypeSyncStarted,
			`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "job_id": "1", "status": "triggered", "message": "", "catalog_version": 1, "attached": false, "started_at": "2025-01-15T10:25:00Z", "queue": "default"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := schemas.Validate(tt.eventType, []byte(tt.data)); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// invalidExample is the form of the files in testdata/invalid.
type invalidExample struct {
	// Type is the event type whose schema the data must fail.
	Type string `json:"type"`
	// Field is the expected ValidationError.Field.
	Field string `json:"field"`
	// Reason is a substring the ValidationError.Reason must contain.
	Reason string          `json:"reason"`
	Data   json.RawMessage `json:"data"`
}

// TestInvalidExamples validates every file of testdata/invalid and checks
// the error names the expected field.
func TestInvalidExamples(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no invalid examples: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ex invalidExample
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ex); err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			if _, ok := events.Lookup(ex.Type); !ok {
				t.Fatalf("unknown type %q", ex.Type)
			}
			err = schemas.Validate(ex.Type, ex.Data)
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *schemas.ValidationError", err)
			}
			if ve.EventType != ex.Type {
				t.Errorf("EventType = %q, want %q", ve.EventType, ex.Type)
			}
			if ve.Field != ex.Field {
				t.Errorf("Field = %q, want %q (%v)", ve.Field, ex.Field, err)
			}
			if !strings.Contains(ve.Reason, ex.Reason) {
				t.Errorf("Reason = %q, want it to contain %q", ve.Reason, ex.Reason)
			}
			if ex.Field != "" && !strings.Contains(err.Error(), ex.Field) {
				t.Errorf("error %q does not name %s", err, ex.Field)
			}
		})
	}
}

// TestSeedExamples validates the request bodies of the seed README.
func TestSeedExamples(t *testing.T) {
	t.Parallel()
	onboard := `{
    "source_type": "Salesforce",
    "connection_name": "Salesforce Production",
    "credential_id": "salesforce-prod"
  }`
	if err := schemas.Validate(events.TypeOnboardRequested, []byte(onboard)); err != nil {
		t.Errorf("seed onboard body: %v", err)
	}
	repair := `{
    "connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "new_sync_catalog": ` + seedRepairCatalog + `
  }`
	if err := schemas.Validate(events.TypeRepairRequested, []byte(repair)); err != nil {
		t.Errorf("seed repair body: %v", err)
	}
	// The seed's sync endpoint took the id from its path; as an event it is
	// the data.
	if err := schemas.Validate(events.TypeSyncRequested, []byte(`{"connection_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`)); err != nil {
		t.Errorf("seed sync: %v", err)
	}
	// The seed's repair body decodes into the Go struct as well.
	var r events.RepairRequested
	dec := json.NewDecoder(strings.NewReader(repair))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || r.ConnectionID == "" || len(r.NewSyncCatalog) == 0 {
		t.Errorf("decode seed repair body: %+v, %v", r, err)
	}
}
