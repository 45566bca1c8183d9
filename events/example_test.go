package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/aam-mesh/aam/events"
)

// A requester builds a sync request, encodes it as a binary-mode NATS
// message, and a worker decodes it back.
func Example() {
	req, err := events.New(events.TypeSyncRequested, "/example/scheduler",
		events.SyncRequested{ConnectionID: "0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"},
		events.WithID("sync-0001"), events.WithTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	if err != nil {
		panic(err)
	}
	msg, err := events.ToMsg(events.SubjectSyncRequest, req, events.Binary)
	if err != nil {
		panic(err)
	}
	fmt.Println("subject:", msg.Subject)
	fmt.Println("ce-type:", msg.Header.Get("ce-type"))
	fmt.Println("Nats-Msg-Id:", msg.Header.Get(events.HeaderMsgID))
	fmt.Println("body:", string(msg.Data))

	got, mode, err := events.FromMsg(msg)
	if err != nil {
		panic(err)
	}
	var data events.SyncRequested
	if err := json.Unmarshal(got.Data(), &data); err != nil {
		panic(err)
	}
	fmt.Println("decoded:", mode, got.ID(), got.Source(), data.ConnectionID)
	// Output:
	// subject: aam.requests.connection.sync
	// ce-type: io.aam.connection.sync.requested.v1
	// Nats-Msg-Id: sync-0001
	// body: {"connection_id":"0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"}
	// decoded: binary sync-0001 /example/scheduler 0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d
}

// The same request in structured mode is one JSON document; Decode tells
// the two modes apart by themselves.
func ExampleDecode_structured() {
	body := `{"specversion":"1.0","id":"sync-0002","source":"/example/scheduler",
		"type":"io.aam.connection.sync.requested.v1","datacontenttype":"application/json",
		"data":{"connection_id":"0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"}}`
	e, mode, err := events.Decode(nats.Header{}, []byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(mode, e.ID(), e.Type(), string(e.Data()))
	// Output:
	// structured sync-0002 io.aam.connection.sync.requested.v1 {"connection_id":"0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"}
}

// A message that lacks a required attribute is a *DecodeError naming it.
func ExampleDecode_missingAttribute() {
	h := nats.Header{
		"ce-specversion": {"1.0"},
		"ce-source":      {"/example/scheduler"},
		"ce-type":        {events.TypeSyncRequested},
	}
	_, _, err := events.Decode(h, []byte(`{"connection_id":"c"}`))
	var de *events.DecodeError
	if errors.As(err, &de) {
		fmt.Println("field:", de.Field)
	}
	// Output:
	// field: id
}
