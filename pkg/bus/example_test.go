package bus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/natsembed"
)

// A worker serves sync requests with a typed handler. The example runs an
// in-process JetStream server, provisions AAM's streams, publishes one
// request and serves it; the handler sees the decoded payload.
func ExampleServe() {
	dir, err := os.MkdirTemp("", "bus-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ns, err := natsembed.Start(natsembed.Options{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, js, bus.StreamsConfig{}); err != nil {
		panic(err)
	}

	req, err := events.New(events.TypeSyncRequested, "/example/scheduler",
		events.SyncRequested{ConnectionID: "0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"}, events.WithID("sync-0001"))
	if err != nil {
		panic(err)
	}
	if _, err := bus.NewPublisher(js).Publish(ctx, events.SubjectSyncRequest, req, events.Binary); err != nil {
		panic(err)
	}

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	err = bus.Serve(serveCtx, bus.Runtime{JS: js}, bus.Route[events.SyncRequested]{
		Consumer: "example-sync",
		Subject:  events.SubjectSyncRequest,
		Type:     events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			fmt.Printf("%s from %s: sync %s (delivery %d)\n", ev.ID, ev.Source, ev.Data.ConnectionID, ev.Msg.NumDelivered)
			stop() // one request is enough for the example
			return nil
		},
	})
	fmt.Println("served:", err)
	// Output:
	// sync-0001 from /example/scheduler: sync 0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d (delivery 1)
	// served: <nil>
}

// A handler says how its error is to be settled: Permanent ends the request
// (failure fact, DLQ copy, TermWithReason), RetryAfter asks for redelivery
// after a delay, and any other error is retried with backoff.
func ExamplePermanent() {
	notActive := bus.Permanentf("connection %s is not ACTIVE", "c-1")
	busy := bus.RetryAfter(20*time.Second, errors.New("airbyte answered 429"))
	wrapped := fmt.Errorf("sync c-1: %w", notActive)

	fmt.Println(bus.IsPermanent(wrapped), wrapped)
	var ra *bus.RetryAfterError
	if errors.As(busy, &ra) {
		fmt.Println(bus.IsPermanent(busy), ra.Delay, ra.Err)
	}
	fmt.Println(bus.Permanent(nil) == nil)
	// Output:
	// true sync c-1: connection c-1 is not ACTIVE
	// false 20s airbyte answered 429
	// true
}
