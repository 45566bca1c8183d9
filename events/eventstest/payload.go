// Package eventstest reads the example payloads of the event catalog for
// tests. The examples are one JSON file a type, every field filled, named
// <type>.json: the schemas module keeps them in schemas/testdata/valid, its
// tests validate them against the JSON Schemas and the events module's golden
// tests encode them, so both speak of the same payloads.
package eventstest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aam-mesh/aam/events"
)

// Payload decodes dir/<eventType>.json into the type's payload struct and
// returns the struct itself (not a pointer to it). A field the struct does
// not know fails the test; JSON values the struct keeps raw come back
// compact.
func Payload(t testing.TB, dir, eventType string) any {
	t.Helper()
	d, ok := events.Lookup(eventType)
	if !ok {
		t.Fatalf("no catalog type %s", eventType)
	}
	raw, err := os.ReadFile(filepath.Join(dir, eventType+".json"))
	if err != nil {
		t.Fatalf("example payload of %s: %v", eventType, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatalf("example payload of %s: %v", eventType, err)
	}
	payload := d.New()
	dec := json.NewDecoder(&compact)
	dec.DisallowUnknownFields()
	if err := dec.Decode(payload); err != nil {
		t.Fatalf("decode the example payload of %s into %T: %v", eventType, payload, err)
	}
	return reflect.ValueOf(payload).Elem().Interface()
}
