package events_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenFile is the on-disk form of one event in both content modes.
type goldenFile struct {
	Subject    string        `json:"subject"`
	Binary     goldenMessage `json:"binary"`
	Structured goldenMessage `json:"structured"`
}

// goldenMessage is a NATS message: its headers (one value each) and its
// body, which is JSON for every AAM event.
type goldenMessage struct {
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func goldenPath(eventType string) string {
	return filepath.Join("testdata", "golden", eventType+".json")
}

func toGoldenMessage(t *testing.T, msg *nats.Msg) goldenMessage {
	t.Helper()
	g := goldenMessage{Headers: map[string]string{}, Body: json.RawMessage(msg.Data)}
	for k, v := range msg.Header {
		if len(v) != 1 {
			t.Fatalf("header %s has %d values, want 1", k, len(v))
		}
		g.Headers[k] = v[0]
	}
	if !json.Valid(msg.Data) {
		t.Fatalf("body is not JSON: %q", msg.Data)
	}
	return g
}

func (g goldenMessage) msg(t *testing.T, subject string) *nats.Msg {
	t.Helper()
	msg := nats.NewMsg(subject)
	for k, v := range g.Headers {
		msg.Header[k] = []string{v}
	}
	var body bytes.Buffer
	if err := json.Compact(&body, g.Body); err != nil {
		t.Fatalf("golden body: %v", err)
	}
	msg.Data = body.Bytes()
	return msg
}

// TestGolden encodes a fixed event of every catalog type in both modes,
// compares the messages with testdata/golden, decodes the golden messages
// and compares the result with the original event and payload.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, d := range events.Catalog() {
		t.Run(d.Type, func(t *testing.T) {
			t.Parallel()
			original := goldenEvent(t, d)

			got := goldenFile{Subject: d.Subject}
			for _, mode := range []events.Mode{events.Binary, events.Structured} {
				msg, err := events.ToMsg(d.Subject, original, mode)
				if err != nil {
					t.Fatalf("ToMsg(%s): %v", mode, err)
				}
				if id := msg.Header.Get(events.HeaderMsgID); id != original.ID() {
					t.Errorf("%s: %s = %q, want the event id %q", mode, events.HeaderMsgID, id, original.ID())
				}
				if mode == events.Binary {
					got.Binary = toGoldenMessage(t, msg)
				} else {
					got.Structured = toGoldenMessage(t, msg)
				}
			}
			gotText, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			gotText = append(gotText, '\n')

			path := goldenPath(d.Type)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, gotText, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantText, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(wantText), string(gotText)); diff != "" {
				t.Fatalf("encoded messages differ from %s (-want +got):\n%s", path, diff)
			}

			var want goldenFile
			if err := json.Unmarshal(wantText, &want); err != nil {
				t.Fatalf("parse %s: %v", path, err)
			}
			for mode, gm := range map[events.Mode]goldenMessage{events.Binary: want.Binary, events.Structured: want.Structured} {
				decoded, gotMode, err := events.FromMsg(gm.msg(t, want.Subject))
				if err != nil {
					t.Fatalf("decode golden %s message: %v", mode, err)
				}
				if gotMode != mode {
					t.Errorf("decoded mode = %s, want %s", gotMode, mode)
				}
				if diff := cmp.Diff(flatten(t, original), flatten(t, decoded)); diff != "" {
					t.Errorf("%s: decoded event differs from the original (-want +got):\n%s", mode, diff)
				}
				if got := events.CorrelationID(decoded); d.Kind == events.KindFact && got != goldenRequestID {
					t.Errorf("%s: correlationid = %q, want %q", mode, got, goldenRequestID)
				}
				if got := events.TraceParent(decoded); got != goldenTraceParent {
					t.Errorf("%s: traceparent = %q, want %q", mode, got, goldenTraceParent)
				}

				payload := d.New()
				dec := json.NewDecoder(bytes.NewReader(decoded.Data()))
				dec.DisallowUnknownFields()
				if err := dec.Decode(payload); err != nil {
					t.Fatalf("%s: decode data into %T: %v", mode, payload, err)
				}
				if diff := cmp.Diff(examplePayload(t, d.Type), reflect.ValueOf(payload).Elem().Interface()); diff != "" {
					t.Errorf("%s: payload differs (-want +got):\n%s", mode, diff)
				}
			}
		})
	}
}
