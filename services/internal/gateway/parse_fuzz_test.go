package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/schemas"
)

// FuzzJSONRequest feeds arbitrary bodies and path ids to the JSON routes'
// parsing (the seed routes and /v1). It must never panic; what it accepts
// is valid against the request's schema and decodes into the payload
// struct; what it refuses carries a reason.
func FuzzJSONRequest(f *testing.F) {
	for _, seed := range []struct {
		kind       uint8
		path, body string
	}{
		{0, "", `{"source_type":"Salesforce","connection_name":"Salesforce Production","credential_id":"salesforce-prod"}`},
		{0, "", `{"source_type":"Salesforce","connection_name":"n","credential_id":"c","streams":["Account","Lead"]}`},
		{1, "a1b2c3d4-e5f6-7890-abcd-ef1234567890", ``},
		{1, "a1b2c3d4-e5f6-7890-abcd-ef1234567890", `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`},
		{2, "a1b2c3d4-e5f6-7890-abcd-ef1234567890", `{"new_sync_catalog":{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}}`},
		{3, "", `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","new_sync_catalog":{"streams":[{"stream":{"name":"A","config":{}}}]}}`},
		{0, "", `{"source_type":"\xff","connection_name":"` + strings.Repeat("n", 300) + `","credential_id":null}`},
		{1, "not-a-uuid", `[1,2]`},
	} {
		f.Add(seed.kind, seed.path, []byte(seed.body))
	}
	kinds := []requestKind{kindOnboard, kindSync, kindRepair, kindRepairSeed}
	f.Fuzz(func(t *testing.T, k uint8, pathID string, body []byte) {
		kind := kinds[int(k)%len(kinds)]
		typ := kind.eventType()
		data, derr := requestData(kind, pathID, body)
		if derr != nil {
			if derr.Error == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		if verr := validateData(typ, data, ""); verr != nil {
			if verr.Error == "" {
				t.Fatal("invalid without a reason")
			}
			return
		}
		checkAccepted(t, typ, data)
	})
}

// FuzzCloudEventsHTTP feeds arbitrary headers and bodies to the parsing of
// POST /v1/events, in both content modes of the CloudEvents HTTP binding.
// It must never panic; an accepted event is a request with a usable id and
// data valid against its schema; a refusal is 400 or 415 with a reason.
//
// The headers argument holds "Key: value" lines.
func FuzzCloudEventsHTTP(f *testing.F) {
	sync := `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`
	for _, seed := range []struct{ headers, body string }{
		{"Ce-Specversion: 1.0\nCe-Id: 1\nCe-Source: /s\nCe-Type: " + events.TypeSyncRequested + "\nContent-Type: application/json\n", sync},
		{"Ce-Specversion: 1.0\nCe-Id: k%20y\nCe-Source: /s\nCe-Type: " + events.TypeSyncRequested + "\nIdempotency-Key: other\n", sync},
		{"Content-Type: application/cloudevents+json\n", `{"specversion":"1.0","id":"1","source":"/s","type":"` + events.TypeOnboardRequested +
			`","data":{"source_type":"Salesforce","connection_name":"n","credential_id":"c"}}`},
		{"Content-Type: application/cloudevents+json; charset=utf-8\n", `{"specversion":"1.0","id":"1","source":"/s","type":"` + events.TypeSyncRequested +
			`","data_base64":"eyJjb25uZWN0aW9uX2lkIjoieCJ9"}`},
		{"Content-Type: application/cloudevents-batch+json\n", `[]`},
		{"Ce-Specversion: 1.0\nCe-Id: 1\nCe-Source: /s\nCe-Type: " + events.TypeSyncSucceeded + "\n", sync},
		{"", `{"connection_id":"x"}`},
	} {
		f.Add(seed.headers, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, headers string, body []byte) {
		hdr := parseHeaders(headers)
		if status, eerr := eventContentType(hdr); eerr != nil {
			if status != http.StatusUnsupportedMediaType || eerr.Error == "" {
				t.Fatalf("content type refused with %d %q", status, eerr.Error)
			}
			return
		}
		ev, status, eerr := decodeHTTPEvent(hdr, body)
		if eerr != nil {
			if (status != http.StatusBadRequest && status != http.StatusUnsupportedMediaType) || eerr.Error == "" {
				t.Fatalf("refused with %d %q", status, eerr.Error)
			}
			return
		}
		if !validKey(ev.ID()) || ev.Source() == "" {
			t.Fatalf("accepted id %q, source %q", ev.ID(), ev.Source())
		}
		checkAccepted(t, ev.Type(), ev.Data())
	})
}

// checkAccepted holds what the gateway publishes to: a request type whose
// data passes its schema, decodes into its payload struct and, encoded
// again, still passes.
func checkAccepted(t *testing.T, typ string, data []byte) {
	t.Helper()
	d, ok := events.Lookup(typ)
	if !ok || d.Kind != events.KindRequest {
		t.Fatalf("accepted type %q is not a request", typ)
	}
	if err := schemas.Validate(typ, data); err != nil {
		t.Fatalf("accepted data fails its schema: %v", err)
	}
	if !utf8.Valid(data) {
		t.Fatalf("accepted data is not UTF-8: %q", data)
	}
	v := d.New()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("accepted data does not decode into %T: %v", v, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(typ, again); err != nil {
		t.Fatalf("payload encoded again fails its schema: %v\n%s", err, again)
	}
}

func parseHeaders(s string) http.Header {
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimRight(s, "\n") + "\n\n")))
	h, err := r.ReadMIMEHeader()
	if err != nil && h == nil {
		return http.Header{}
	}
	return http.Header(h)
}
