package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

const syncBody = `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`

// binaryHeaders returns the minimal headers of a binary-mode sync request,
// followed by extra lines.
func binaryHeaders(extra ...string) nats.Header {
	return header(append([]string{
		"ce-specversion: 1.0",
		"ce-id: req-1",
		"ce-source: /billing/nightly",
		"ce-type: " + events.TypeSyncRequested,
	}, extra...)...)
}

func mustDecode(t *testing.T, h nats.Header, body []byte, wantMode events.Mode) event.Event {
	t.Helper()
	e, mode, err := events.Decode(h, body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if mode != wantMode {
		t.Fatalf("mode = %s, want %s", mode, wantMode)
	}
	return e
}

func TestDecodeHeaderNamesIgnoreCase(t *testing.T) {
	t.Parallel()
	// nats pub -H keeps the case the user typed.
	h := header(
		"Ce-Specversion: 1.0",
		"Ce-Id: req-1",
		"CE-TYPE: "+events.TypeSyncRequested,
		"ce-Source: /billing/nightly",
		"Ce-Subject: "+goldenConnectionID,
		"CE-TIME: 2025-01-15T10:30:00Z",
		"Ce-DataContentType: application/json",
		"Ce-CorrelationID: corr-1",
	)
	e := mustDecode(t, h, []byte(syncBody), events.Binary)
	want := flat{
		SpecVersion: "1.0", ID: "req-1", Type: events.TypeSyncRequested, Source: "/billing/nightly",
		Subject: goldenConnectionID, Time: "2025-01-15T10:30:00Z", DataContentType: "application/json",
		Extensions: map[string]string{"correlationid": "corr-1"}, Data: syncBody,
	}
	if diff := cmp.Diff(want, flatten(t, e)); diff != "" {
		t.Errorf("decoded event (-want +got):\n%s", diff)
	}
}

func TestPercentEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		decoded, encoded string
	}{
		{"Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"}, // the binding's own example
		{"plain", "plain"},
		{"100%", "100%25"},
		{`say "hi"`, "say%20%22hi%22"},
		{"tab\tnew\nline", "tab%09new%0Aline"},
		{"del\x7f", "del%7F"},
		{"/a/b?c=d&e=f#g", "/a/b?c=d&e=f#g"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := events.PercentEncode(tt.decoded); got != tt.encoded {
			t.Errorf("PercentEncode(%q) = %q, want %q", tt.decoded, got, tt.encoded)
		}
		got, err := events.PercentDecode(tt.encoded)
		if err != nil || got != tt.decoded {
			t.Errorf("PercentDecode(%q) = %q, %v; want %q", tt.encoded, got, err, tt.decoded)
		}
	}
}

func TestPercentDecodeLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"quoted", `"Euro%20%E2%82%AC"`, "Euro €"},
		{"quoted with escapes", `"a \"b\" \\c"`, `a "b" \c`},
		{"lone quote is not a quoted string", `"abc`, `"abc`},
		{"needless encoding", "%61%62c%2D%2f", "abc-/"},
		{"lower-case hex digits", "%e2%82%ac", "€"},
		{"raw percent as sdk-go sends it", "100%", "100%"},
		{"raw percent before non-hex", "100% done", "100% done"},
		{"raw percent with a valid escape elsewhere", "50%25 of 100%", "50%25 of 100%"},
		{"raw UTF-8 as sdk-go sends it", "Zürich €", "Zürich €"},
		{"one round only", "%2520", "%20"},
	}
	for _, tt := range tests {
		got, err := events.PercentDecode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: PercentDecode(%q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestPercentDecodeRejectsInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"%C0%A0", "%FF", "abc%E2%82", `"%C0%A0"`, "raw\xff"} {
		if got, err := events.PercentDecode(in); err == nil {
			t.Errorf("PercentDecode(%q) = %q, want an error", in, got)
		}
	}
}

func TestDecodePercentEncodedHeaders(t *testing.T) {
	t.Parallel()
	h := binaryHeaders(
		"ce-subject: Euro%20%E2%82%AC%20%F0%9F%98%80",
		`ce-correlationid: "quoted%20value"`,
		"ce-traceparent: "+goldenTraceParent,
		"ce-comment: 100%",
	)
	e := mustDecode(t, h, []byte(syncBody), events.Binary)
	if got := e.Subject(); got != "Euro € 😀" {
		t.Errorf("subject = %q, want %q", got, "Euro € 😀")
	}
	if got := events.CorrelationID(e); got != "quoted value" {
		t.Errorf("correlationid = %q, want %q", got, "quoted value")
	}
	if got := events.TraceParent(e); got != goldenTraceParent {
		t.Errorf("traceparent = %q, want %q", got, goldenTraceParent)
	}
	if got := e.Extensions()["comment"]; got != "100%" {
		t.Errorf("comment = %v, want 100%%", got)
	}

	// Encoding writes the values percent-encoded again.
	msg, err := events.ToMsg(events.SubjectSyncRequest, e, events.Binary)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"ce-subject":       "Euro%20%E2%82%AC%20%F0%9F%98%80",
		"ce-correlationid": "quoted%20value",
		"ce-comment":       "100%25",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("encoded %s = %q, want %q", k, got, want)
		}
	}
}

func TestDecodeRejectsInvalidUTF8Header(t *testing.T) {
	t.Parallel()
	for _, attr := range []string{"id", "subject", "correlationid"} {
		h := binaryHeaders()
		h.Set("ce-"+attr, "bad%C0%A0")
		_, _, err := events.Decode(h, []byte(syncBody))
		var de *events.DecodeError
		if !errors.As(err, &de) || de.Field != attr {
			t.Errorf("ce-%s with invalid UTF-8: err = %v, want a DecodeError for %s", attr, err, attr)
		}
	}
}

func TestDecodeDataContentType(t *testing.T) {
	t.Parallel()
	t.Run("unprefixed content-type as sdk-go reads it", func(t *testing.T) {
		t.Parallel()
		e := mustDecode(t, binaryHeaders("content-type: application/json"), []byte(syncBody), events.Binary)
		if got := e.DataContentType(); got != "application/json" {
			t.Errorf("datacontenttype = %q, want application/json", got)
		}
	})
	t.Run("Content-Type in any case", func(t *testing.T) {
		t.Parallel()
		e := mustDecode(t, binaryHeaders("Content-Type: application/json"), []byte(syncBody), events.Binary)
		if got := e.DataContentType(); got != "application/json" {
			t.Errorf("datacontenttype = %q, want application/json", got)
		}
	})
	t.Run("ce-datacontenttype wins", func(t *testing.T) {
		t.Parallel()
		h := binaryHeaders("ce-datacontenttype: application/json", "content-type: text/plain")
		e := mustDecode(t, h, []byte(syncBody), events.Binary)
		if got := e.DataContentType(); got != "application/json" {
			t.Errorf("datacontenttype = %q, want application/json", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		e := mustDecode(t, binaryHeaders(), []byte(syncBody), events.Binary)
		if got := e.DataContentType(); got != "" {
			t.Errorf("datacontenttype = %q, want empty", got)
		}
		if got := string(e.Data()); got != syncBody {
			t.Errorf("data = %q, want %q", got, syncBody)
		}
	})
}

func structuredBody(t *testing.T, attrs map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func syncAttrs() map[string]any {
	return map[string]any{
		"specversion":     "1.0",
		"id":              "req-1",
		"source":          "/billing/nightly",
		"type":            events.TypeSyncRequested,
		"time":            "2025-01-15T10:30:00Z",
		"datacontenttype": "application/json",
		"data":            json.RawMessage(syncBody),
	}
}

func TestDecodeStructured(t *testing.T) {
	t.Parallel()
	want := flat{
		SpecVersion: "1.0", ID: "req-1", Type: events.TypeSyncRequested, Source: "/billing/nightly",
		Time: "2025-01-15T10:30:00Z", DataContentType: "application/json", Data: syncBody,
	}
	for _, ct := range []string{
		"application/cloudevents+json",
		"application/cloudevents+json; charset=utf-8",
		"Application/CloudEvents+JSON; charset=UTF-8",
		"APPLICATION/CLOUDEVENTS+JSON",
	} {
		for _, key := range []string{"Content-Type", "content-type", "CONTENT-TYPE"} {
			e := mustDecode(t, header(key+": "+ct), structuredBody(t, syncAttrs()), events.Structured)
			if diff := cmp.Diff(want, flatten(t, e)); diff != "" {
				t.Errorf("%s: %s: decoded event (-want +got):\n%s", key, ct, diff)
			}
		}
	}

	t.Run("unmarked JSON as sdk-go sends it", func(t *testing.T) {
		t.Parallel()
		e := mustDecode(t, nil, structuredBody(t, syncAttrs()), events.Structured)
		if diff := cmp.Diff(want, flatten(t, e)); diff != "" {
			t.Errorf("decoded event (-want +got):\n%s", diff)
		}
		// Leading white space and an unrelated header do not matter.
		body := append([]byte("\n  "), structuredBody(t, syncAttrs())...)
		e = mustDecode(t, header("Nats-Msg-Id: req-1"), body, events.Structured)
		if diff := cmp.Diff(want, flatten(t, e)); diff != "" {
			t.Errorf("decoded event (-want +got):\n%s", diff)
		}
	})

	t.Run("structured wins over ce- headers", func(t *testing.T) {
		t.Parallel()
		h := binaryHeaders("Content-Type: application/cloudevents+json")
		h.Set("ce-id", "header-id")
		e := mustDecode(t, h, structuredBody(t, syncAttrs()), events.Structured)
		if e.ID() != "req-1" {
			t.Errorf("id = %q, want the body's req-1", e.ID())
		}
	})

	t.Run("extensions", func(t *testing.T) {
		t.Parallel()
		attrs := syncAttrs()
		attrs["correlationid"] = "corr-1"
		attrs["traceparent"] = goldenTraceParent
		e := mustDecode(t, header("Content-Type: application/cloudevents+json"), structuredBody(t, attrs), events.Structured)
		if got := events.CorrelationID(e); got != "corr-1" {
			t.Errorf("correlationid = %q, want corr-1", got)
		}
		if got := events.TraceParent(e); got != goldenTraceParent {
			t.Errorf("traceparent = %q, want %q", got, goldenTraceParent)
		}
	})

	t.Run("data_base64", func(t *testing.T) {
		t.Parallel()
		attrs := syncAttrs()
		delete(attrs, "data")
		attrs["data_base64"] = "eyJjb25uZWN0aW9uX2lkIjoiYTFiMmMzZDQtZTVmNi03ODkwLWFiY2QtZWYxMjM0NTY3ODkwIn0="
		e := mustDecode(t, header("Content-Type: application/cloudevents+json"), structuredBody(t, attrs), events.Structured)
		if got := string(e.Data()); got != syncBody {
			t.Errorf("data = %q, want %q", got, syncBody)
		}
	})
}

func TestDecodeExtensions(t *testing.T) {
	t.Parallel()
	h := binaryHeaders("ce-correlationid: corr-1", "ce-traceparent: "+goldenTraceParent, "ce-tracestate: congo=t61rcWkgMzE")
	e := mustDecode(t, h, []byte(syncBody), events.Binary)
	want := map[string]any{
		events.ExtCorrelationID: "corr-1",
		events.ExtTraceParent:   goldenTraceParent,
		events.ExtTraceState:    "congo=t61rcWkgMzE",
	}
	if diff := cmp.Diff(want, e.Extensions()); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}

	// The encoder mirrors traceparent into the plain per-hop header.
	msg, err := events.ToMsg(events.SubjectSyncRequest, e, events.Binary)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(events.HeaderTraceParent); got != goldenTraceParent {
		t.Errorf("traceparent header = %q, want %q", got, goldenTraceParent)
	}
	// Only ce-traceparent is the extension; the plain header alone is not.
	h = binaryHeaders("traceparent: " + goldenTraceParent)
	e = mustDecode(t, h, []byte(syncBody), events.Binary)
	if got := events.TraceParent(e); got != "" {
		t.Errorf("traceparent extension = %q from a plain header, want none", got)
	}
}

func TestDecodeMissingAttribute(t *testing.T) {
	t.Parallel()
	for _, attr := range []string{"id", "source", "type", "specversion"} {
		t.Run("binary/"+attr, func(t *testing.T) {
			t.Parallel()
			h := binaryHeaders()
			h.Del("ce-" + attr)
			_, _, err := events.Decode(h, []byte(syncBody))
			assertDecodeError(t, err, attr)
			if attr == "specversion" && !errors.Is(err, events.ErrNotCloudEvent) {
				t.Errorf("without ce-specversion: err = %v, want ErrNotCloudEvent", err)
			}
		})
		t.Run("binary/empty "+attr, func(t *testing.T) {
			t.Parallel()
			h := binaryHeaders()
			h.Set("ce-"+attr, "")
			_, _, err := events.Decode(h, []byte(syncBody))
			assertDecodeError(t, err, attr)
		})
		t.Run("structured/"+attr, func(t *testing.T) {
			t.Parallel()
			attrs := syncAttrs()
			delete(attrs, attr)
			_, _, err := events.Decode(header("Content-Type: application/cloudevents+json"), structuredBody(t, attrs))
			assertDecodeError(t, err, attr)
		})
		t.Run("structured/null "+attr, func(t *testing.T) {
			t.Parallel()
			attrs := syncAttrs()
			attrs[attr] = nil
			_, _, err := events.Decode(header("Content-Type: application/cloudevents+json"), structuredBody(t, attrs))
			assertDecodeError(t, err, attr)
		})
		t.Run("structured/blank "+attr, func(t *testing.T) {
			t.Parallel()
			attrs := syncAttrs()
			attrs[attr] = "   "
			_, _, err := events.Decode(header("Content-Type: application/cloudevents+json"), structuredBody(t, attrs))
			assertDecodeError(t, err, attr)
		})
	}
}

func TestDecodeBadAttribute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		h     nats.Header
		body  func(t *testing.T) []byte
		field string
	}{
		{"binary time", binaryHeaders("ce-time: yesterday"), nil, "time"},
		{"binary time without zone", binaryHeaders("ce-time: 2025-01-15T10:30:00"), nil, "time"},
		{"binary time before year 0 in UTC", binaryHeaders("ce-time: 0000-01-01T00:00:00+01:00"), nil, "time"},
		{"binary time after year 9999 in UTC", binaryHeaders("ce-time: 9999-12-31T23:59:59-01:00"), nil, "time"},
		{"binary specversion", header("ce-specversion: 2.0", "ce-id: 1", "ce-source: /s", "ce-type: t"), nil, "specversion"},
		{"binary datacontenttype", binaryHeaders("ce-datacontenttype: not a media type"), nil, "datacontenttype"},
		{"binary dataschema", binaryHeaders("ce-dataschema: relative/path"), nil, "dataschema"},
		{"binary extension name", binaryHeaders("ce-trace-parent: x"), nil, "trace-parent"},
		{"structured time", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["time"] = "yesterday"
			return structuredBody(t, a)
		}, "time"},
		{"structured time named like another attribute", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["time"] = "subject"
			return structuredBody(t, a)
		}, "time"},
		{"structured time out of range", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["time"] = "0000-01-01T00:00:00+01:00"
			return structuredBody(t, a)
		}, "time"},
		{"structured time as a number", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["time"] = 1736937000
			return structuredBody(t, a)
		}, "time"},
		{"structured id as a number", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["id"] = 42
			return structuredBody(t, a)
		}, "id"},
		{"structured specversion", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["specversion"] = "2.0"
			return structuredBody(t, a)
		}, "specversion"},
		{"structured subject as an object", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["subject"] = map[string]any{"id": 1}
			return structuredBody(t, a)
		}, "subject"},
		{"structured extension out of range", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["attempt"] = 1e20
			return structuredBody(t, a)
		}, "attempt"},
		{"structured extension as an object", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["correlationid"] = map[string]any{"id": "x"}
			return structuredBody(t, a)
		}, "correlationid"},
		{"structured extension name in upper case", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			a["TraceParent"] = goldenTraceParent
			return structuredBody(t, a)
		}, "TraceParent"},
		{"structured bad base64", nil, func(t *testing.T) []byte {
			a := syncAttrs()
			delete(a, "data")
			a["data_base64"] = "!!!"
			return structuredBody(t, a)
		}, "data_base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, body := tt.h, []byte(syncBody)
			if tt.body != nil {
				h, body = header("Content-Type: application/cloudevents+json; charset=utf-8"), tt.body(t)
			}
			_, _, err := events.Decode(h, body)
			assertDecodeError(t, err, tt.field)
			if errors.Is(err, events.ErrNotCloudEvent) && tt.field != "specversion" {
				t.Errorf("a CloudEvent with a bad %s is reported as not a CloudEvent: %v", tt.field, err)
			}
		})
	}
}

func assertDecodeError(t *testing.T, err error, field string) {
	t.Helper()
	var de *events.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want *events.DecodeError", err, err)
	}
	if de.Field != field {
		t.Errorf("DecodeError.Field = %q, want %q (error: %v)", de.Field, field, err)
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("error %q does not name %s", err, field)
	}
}

func TestDecodeNotCloudEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    nats.Header
		body string
	}{
		{"plain JSON", nil, syncBody},
		{"plain JSON with a JSON content type", header("Content-Type: application/json"), syncBody},
		{"empty", nil, ""},
		{"empty with headers", header("Nats-Msg-Id: 1"), ""},
		{"garbage", nil, "\x00\xff garbage \x01"},
		{"JSON array", nil, `[{"specversion":"1.0"}]`},
		{"JSON string", nil, `"specversion"`},
		{"truncated JSON", nil, `{"specversion":"1.0","id":`},
		{"structured content type, garbage body", header("Content-Type: application/cloudevents+json"), "garbage"},
		{"structured content type, empty body", header("Content-Type: application/cloudevents+json"), ""},
		{"structured content type, array body", header("Content-Type: application/cloudevents+json"), "[]"},
		{"unsupported structured format", header("Content-Type: application/cloudevents+xml"), "<event/>"},
		{"batch format", header("Content-Type: application/cloudevents-batch+json"), "[]"},
		{"ce- headers without specversion", header("ce-id: 1", "ce-source: /s", "ce-type: t"), syncBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _, err := events.Decode(tt.h, []byte(tt.body))
			if !errors.Is(err, events.ErrNotCloudEvent) {
				t.Fatalf("err = %v, want ErrNotCloudEvent (event %v)", err, e)
			}
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("err = %T, want *events.DecodeError", err)
			}
		})
	}
}

func TestFromMsg(t *testing.T) {
	t.Parallel()
	msg := nats.NewMsg(events.SubjectSyncRequest)
	msg.Header = binaryHeaders("ce-time: 2025-01-15T11:30:00+01:00")
	msg.Data = []byte(syncBody)
	e, mode, err := events.FromMsg(msg)
	if err != nil || mode != events.Binary {
		t.Fatalf("FromMsg = %v, %v; want binary", mode, err)
	}
	if want := time.Date(2025, 1, 15, 10, 30, 0, 0, time.UTC); !e.Time().Equal(want) {
		t.Errorf("time = %v, want %v", e.Time(), want)
	}
	// Decoding copies the body: the message buffer may be reused.
	copy(msg.Data, "xxxxxxxx")
	if got := string(e.Data()); got != syncBody {
		t.Errorf("data changed with the message buffer: %q", got)
	}
}

// TestSDKGoBinaryConventions builds messages exactly as sdk-go's NATS
// JetStream v3 writer does (protocol/nats_jetstream/v3/write_message.go):
// each attribute and extension in a "ce-"+name header holding fmt.Sprint of
// the value, time as RFC 3339 with nanoseconds in the value's own zone, no
// percent-encoding, no unprefixed content-type; structured mode is the JSON
// event format with no Content-Type header at all.
func TestSDKGoBinaryConventions(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("CEST", 2*60*60)
	when := time.Date(2025, 6, 1, 12, 30, 0, 500, zone)

	e := event.New()
	e.SetID("sdk-go-1")
	e.SetSource("https://billing.example/nightly?run=1")
	e.SetType(events.TypeSyncRequested)
	e.SetSubject("Zürich 100% \"done\"")
	e.SetTime(when)
	e.SetDataSchema("https://schemas.aam.dev/events/connection.sync.requested.v1.json")
	e.SetExtension(events.ExtCorrelationID, "corr 1")
	e.SetExtension(events.ExtTraceParent, goldenTraceParent)
	e.SetExtension("attempt", 3)
	e.SetExtension("replay", true)
	if err := e.SetData(event.ApplicationJSON, json.RawMessage(syncBody)); err != nil {
		t.Fatal(err)
	}

	// What sdk-go's natsBinaryMessageWriter produces.
	h := nats.Header{}
	set := func(name string, v any) { h.Set("ce-"+name, fmt.Sprint(v)) }
	set("specversion", e.SpecVersion())
	set("id", e.ID())
	set("source", e.Source())
	set("type", e.Type())
	set("subject", e.Subject())
	h.Set("ce-time", when.Format(time.RFC3339Nano))
	set("dataschema", e.DataSchema())
	set("datacontenttype", e.DataContentType())
	for name, v := range e.Extensions() {
		set(name, v)
	}
	if got := h.Get("ce-time"); got != "2025-06-01T12:30:00.0000005+02:00" {
		t.Fatalf("ce-time = %q: the test does not build what sdk-go builds", got)
	}

	want := flatten(t, e)
	got := mustDecode(t, h, []byte(syncBody), events.Binary)
	if diff := cmp.Diff(want, flatten(t, got)); diff != "" {
		t.Errorf("binary from sdk-go (-want +got):\n%s", diff)
	}

	body, err := json.Marshal(e) // sdk-go's format.JSON.Marshal
	if err != nil {
		t.Fatal(err)
	}
	got = mustDecode(t, nats.Header{}, body, events.Structured)
	if diff := cmp.Diff(want, flatten(t, got)); diff != "" {
		t.Errorf("structured from sdk-go (-want +got):\n%s", diff)
	}
}

// TestEncodeForSDKGoReaders checks what sdk-go's NATS reader relies on in
// our binary messages: exact lowercase ce- keys, ce-specversion present, and
// an unprefixed content-type for datacontenttype.
func TestEncodeForSDKGoReaders(t *testing.T) {
	t.Parallel()
	e := goldenEvent(t, mustLookup(t, events.TypeSyncSucceeded))
	msg, err := events.ToMsg(events.SubjectSyncSucceeded, e, events.Binary)
	if err != nil {
		t.Fatal(err)
	}
	for k := range msg.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "ce-") && k != lk {
			t.Errorf("header %q is not lowercase", k)
		}
	}
	if msg.Header.Get("ce-specversion") != "1.0" {
		t.Errorf("ce-specversion = %q", msg.Header.Get("ce-specversion"))
	}
	if got := msg.Header.Get("content-type"); got != events.MediaTypeJSON {
		t.Errorf("content-type = %q, want %q", got, events.MediaTypeJSON)
	}
}

func TestToMsgRejectsInvalidEvent(t *testing.T) {
	t.Parallel()
	e := event.New()
	e.SetSource("/s")
	e.SetType("t")
	if _, err := events.ToMsg("x", e, events.Binary); err == nil {
		t.Error("ToMsg of an event without id succeeded")
	}
	e.SetID("1")
	if _, err := events.ToMsg("x", e, events.Mode(0)); err == nil {
		t.Error("ToMsg with an unknown mode succeeded")
	}
}

func mustLookup(t *testing.T, eventType string) events.Descriptor {
	t.Helper()
	d, ok := events.Lookup(eventType)
	if !ok {
		t.Fatalf("%s is not in the catalog", eventType)
	}
	return d
}

func TestDecodeReportsTheSameAttribute(t *testing.T) {
	t.Parallel()
	a := syncAttrs()
	a["time"] = "yesterday"
	a["subject"] = 42
	a["zone"] = []string{"x"}
	body := structuredBody(t, a)
	for range 20 {
		_, _, err := events.Decode(nil, body)
		assertDecodeError(t, err, "subject")
	}
}
