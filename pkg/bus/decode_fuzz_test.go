package bus

import (
	"bufio"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// FuzzDecodeRequest feeds arbitrary headers and bodies to the worker
// runtime's request decoder for every request type, with the schema
// validator the workers run. It must never panic, and it must give either
// a typed event or a rejection that can be recorded and told: a reason, and
// every text the registry and the rejected fact will carry valid UTF-8
// without NUL bytes (PostgreSQL text refuses both, and a rejection that
// cannot be recorded would come back forever).
//
// The headers argument holds "Key: value" lines.
func FuzzDecodeRequest(f *testing.F) {
	sync := `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}`
	for _, seed := range []struct {
		kind          uint8
		headers, body string
	}{
		{0, "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: " + events.TypeOnboardRequested + "\n",
			`{"source_type":"Salesforce","connection_name":"n","credential_id":"c"}`},
		{1, "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: " + events.TypeSyncRequested + "\n", sync},
		{1, "ce-specversion: 1.0\nce-id: \xff\x00\nce-source: /s\xfe\nce-type: " + events.TypeSyncRequested + "\n", `{"connection_id":"\xff"}`},
		{1, "", `{"specversion":"1.0","id":"1","source":"/s","type":"` + events.TypeSyncRequested + `","data":{"conn\u0000":"x"}}`},
		{2, "content-type: application/cloudevents+json\n", `{"specversion":"1.0","id":"1","source":"/s","type":"x.y","data":1}`},
		{2, "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: " + events.TypeRepairRequested + "\n", `{"connection_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890","new_sync_catalog":{"streams":[]}}`},
		{0, "", "not a cloudevent \xc3\x28"},
	} {
		f.Add(seed.kind, seed.headers, []byte(seed.body))
	}
	var types []string
	for _, d := range events.Catalog() {
		if d.Kind == events.KindRequest {
			types = append(types, d.Type)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, headers string, body []byte) {
		typ := types[int(kind)%len(types)]
		d, _ := events.Lookup(typ)
		s := &server[map[string]any]{rt: Runtime{Validate: SchemaValidator()}, r: Route[map[string]any]{Type: typ, Subject: d.Subject}}
		ev, rej := s.decode(parseHeaders(headers), body, MsgInfo{Subject: d.Subject, Stream: StreamRequests, Sequence: 1})
		if rej == nil {
			if ev.Type != typ || ev.ID == "" || ev.Data == nil {
				t.Fatalf("accepted %+v", ev)
			}
			for _, s := range []string{ev.ID, ev.Source, ev.Subject} {
				if !recordable(s) {
					t.Fatalf("accepted attribute %q cannot be recorded", s)
				}
			}
			return
		}
		if rej.Reason == "" {
			t.Fatal("a rejection without a reason")
		}
		for name, s := range map[string]string{"reason": rej.Reason, "field": rej.Field, "id": rej.RequestID,
			"source": rej.RequestSource, "type": rej.RequestType} {
			if !recordable(s) {
				t.Fatalf("rejection %s %q cannot be recorded", name, s)
			}
		}
	})
}

func recordable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func parseHeaders(s string) nats.Header {
	h := nats.Header{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			h.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
		}
	}
	return h
}
