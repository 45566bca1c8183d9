package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/events/eventstest"
)

// Fixed attribute values of the golden events.
const (
	goldenConnectionID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
	goldenRequestID    = "0194a3c6-1f2e-7d3c-8b4a-5e6f7a8b9c0d"
	goldenTraceParent  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

var (
	goldenTime = time.Date(2025, 1, 15, 10, 30, 0, 123456789, time.UTC)
)

// examplePayload returns the example payload of a catalog type, every
// field filled, so that the golden files show the whole contract: the same
// payloads the schemas module validates against the JSON Schemas.
func examplePayload(t testing.TB, eventType string) any {
	t.Helper()
	return eventstest.Payload(t, filepath.Join("..", "schemas", "testdata", "valid"), eventType)
}

// goldenEvent builds the fixed event of a catalog type: requests come from
// an outside publisher; facts from an AAM role and answer goldenRequestID.
func goldenEvent(t testing.TB, d events.Descriptor) event.Event {
	t.Helper()
	opts := []events.Option{
		events.WithID(events.DeterministicID("/golden", "1", d.Type)),
		events.WithTime(goldenTime),
		events.WithTraceParent(goldenTraceParent),
	}
	source := "/billing/nightly"
	if d.Kind == events.KindFact {
		source = "/aam/" + strings.Split(strings.TrimPrefix(d.Subject, "aam.events."), ".")[0]
		opts = append(opts, events.WithSubject(goldenConnectionID), events.WithCorrelationID(goldenRequestID))
	} else if d.Type != events.TypeOnboardRequested {
		opts = append(opts, events.WithSubject(goldenConnectionID))
	}
	e, err := events.New(d.Type, source, examplePayload(t, d.Type), opts...)
	if err != nil {
		t.Fatalf("build golden %s: %v", d.Type, err)
	}
	return e
}

// flat is a comparable view of an event: every attribute in its canonical
// string form, so that events read from either mode compare equal when they
// carry the same information.
type flat struct {
	SpecVersion     string
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            string
	DataSchema      string
	DataContentType string
	Extensions      map[string]string
	Data            string
}

func flatten(t testing.TB, e event.Event) flat {
	t.Helper()
	f := flat{
		SpecVersion:     e.SpecVersion(),
		ID:              e.ID(),
		Source:          e.Source(),
		Type:            e.Type(),
		Subject:         e.Subject(),
		DataSchema:      e.DataSchema(),
		DataContentType: e.DataContentType(),
		Data:            string(e.Data()),
	}
	// JSON data is a JSON value: white space between tokens carries no
	// information (structured mode re-indents it).
	if isJSONMediaType(e.DataMediaType()) && json.Valid(e.Data()) {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Data()); err != nil {
			t.Fatal(err)
		}
		f.Data = b.String()
	}
	if tm := e.Time(); !tm.IsZero() {
		f.Time = tm.UTC().Format(time.RFC3339Nano)
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			t.Fatalf("extension %s: %v", name, err)
		}
		if f.Extensions == nil {
			f.Extensions = map[string]string{}
		}
		f.Extensions[name] = s
	}
	return f
}

// header builds a nats.Header from "Key: value" lines, keeping the keys'
// case as written (as `nats pub -H` does).
func header(lines ...string) nats.Header {
	h := nats.Header{}
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			panic("header line without colon: " + l)
		}
		h.Add(k, strings.TrimPrefix(v, " "))
	}
	return h
}

// headerText renders headers as "Key: value" lines sorted by key, the form
// the fuzz corpus uses.
func headerText(h nats.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// parseHeaderText is the inverse of headerText; malformed lines are skipped.
func parseHeaderText(s string) nats.Header {
	h := nats.Header{}
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		h.Add(k, strings.TrimPrefix(v, " "))
	}
	return h
}

func isJSONMediaType(mt string) bool {
	switch mt {
	case "", "application/json", "text/json", "application/cloudevents+json", "application/cloudevents-batch+json":
		return true
	}
	return false
}
