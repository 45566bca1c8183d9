package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

// testBundle is a provisioned JetStream server, a registry schema with an
// effects table, and a relay publishing its outbox.
type testBundle struct {
	t     *testing.T
	nc    *nats.Conn
	js    jetstream.JetStream
	store *registry.Store
	rt    bus.Runtime
	ctx   context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ns, nc, js := bustest.Provisioned(t)
	_ = ns
	schema := dbtest.NewSchema(t)
	_, err := schema.Pool.Exec(context.Background(), `CREATE TABLE effects (request_id text NOT NULL, note text)`)
	require.NoError(t, err)
	store := registry.NewStore(schema.Pool)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	relay := outbox.NewRelay(store, js, outbox.RelayConfig{PollInterval: 10 * time.Millisecond})
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-relayDone })
	return &testBundle{
		t: t, nc: nc, js: js, store: store, ctx: ctx,
		rt: bus.Runtime{JS: js, Logger: zaptest.NewLogger(t), Ledger: outbox.NewLedger(store, "/aam/test"),
			Validate: testValidator, Source: "/aam/test", SoftStop: 2 * time.Second},
	}
}

// testValidator stands in for the JSON Schemas: connection_id must be a
// non-empty string.
func testValidator(eventType string, data []byte) error {
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		return &bus.DataError{Reason: "not a JSON object"}
	}
	if s, ok := v["connection_id"].(string); !ok || s == "" {
		return &bus.DataError{Field: "connection_id", Reason: "connection_id is required"}
	}
	return nil
}

// serve runs a route until the test ends (or stop is called).
func (b *testBundle) serve(r bus.Route[events.SyncRequested]) (stop func()) {
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- bus.Serve(ctx, b.rt, r) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(b.t, <-done)
		})
	}
	b.t.Cleanup(stop)
	// Wait for the consumer to exist.
	require.Eventually(b.t, func() bool {
		_, err := b.js.Consumer(b.ctx, bus.StreamRequests, r.Consumer)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	return stop
}

func (b *testBundle) publish(id, connectionID string) {
	b.t.Helper()
	e, err := events.New(events.TypeSyncRequested, "/test", events.SyncRequested{ConnectionID: connectionID}, events.WithID(id))
	require.NoError(b.t, err)
	_, err = bus.NewPublisher(b.js).Publish(b.ctx, events.SubjectSyncRequest, e, events.Binary)
	require.NoError(b.t, err)
}

func (b *testBundle) publishRaw(h nats.Header, data []byte) {
	b.t.Helper()
	msg := nats.NewMsg(events.SubjectSyncRequest)
	if h != nil {
		msg.Header = h
	}
	msg.Data = data
	_, err := b.js.PublishMsg(b.ctx, msg)
	require.NoError(b.t, err)
}

// effect is a handler body: the effect, the inbox row and a fact, in one
// transaction.
func (b *testBundle) effect(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
	return b.store.InTx(ctx, func(q *registry.Queries) error {
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeDone})
		if err != nil || !inserted {
			return err
		}
		if _, err := q.DB().Exec(ctx, `INSERT INTO effects (request_id) VALUES ($1)`, ev.ID); err != nil {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeSyncSucceeded, "/aam/test", ev.Data.ConnectionID, outbox.RequestOf(ev),
			events.SyncFinished{ConnectionID: ev.Data.ConnectionID, Status: events.JobSucceeded})
	})
}

func (b *testBundle) effects(id string) int {
	var n int
	require.NoError(b.t, b.store.Pool().QueryRow(b.ctx, `SELECT count(*) FROM effects WHERE request_id = $1`, id).Scan(&n))
	return n
}

// facts collects the facts published on subject.
func (b *testBundle) facts(subject string) func() []*nats.Msg {
	var mu sync.Mutex
	var got []*nats.Msg
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { mu.Lock(); got = append(got, m); mu.Unlock() })
	require.NoError(b.t, err)
	b.t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(b.t, b.nc.Flush())
	return func() []*nats.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*nats.Msg(nil), got...)
	}
}

func (b *testBundle) consumerInfo(name string) *jetstream.ConsumerInfo {
	c, err := b.js.Consumer(b.ctx, bus.StreamRequests, name)
	require.NoError(b.t, err)
	info, err := c.Info(b.ctx)
	require.NoError(b.t, err)
	return info
}

func decodeData[T any](t *testing.T, m *nats.Msg) (T, map[string]any) {
	t.Helper()
	e, _, err := events.FromMsg(m)
	require.NoError(t, err)
	var v T
	require.NoError(t, json.Unmarshal(e.Data(), &v))
	return v, e.Extensions()
}

func TestAckOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	committed := make(chan struct{})
	release := make(chan struct{})
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			if err := b.effect(ctx, ev); err != nil {
				return err
			}
			close(committed)
			<-release
			return nil
		}})
	b.publish("req-1", "c-1")
	<-committed
	require.Equal(t, 1, b.effects("req-1"))
	info := b.consumerInfo("w")
	require.Equal(t, 1, info.NumAckPending, "committed but not yet acknowledged")
	require.Zero(t, info.AckFloor.Stream)
	close(release)
	require.Eventually(t, func() bool {
		i := b.consumerInfo("w")
		return i.NumAckPending == 0 && i.AckFloor.Stream == 1
	}, 5*time.Second, 10*time.Millisecond)
}

func TestRetryWithGrowingDelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var at []time.Time
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Backoff: bus.ExponentialBackoff(100*time.Millisecond, 5*time.Second),
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			mu.Lock()
			at = append(at, time.Now())
			n := len(at)
			mu.Unlock()
			if n < 4 {
				return errors.New("airbyte unavailable")
			}
			return b.effect(ctx, ev)
		}})
	b.publish("req-2", "c-2")
	require.Eventually(t, func() bool { return b.effects("req-2") == 1 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, at, 4)
	d1, d2, d3 := at[1].Sub(at[0]), at[2].Sub(at[1]), at[3].Sub(at[2])
	t.Logf("redelivery delays: %v %v %v", d1, d2, d3)
	// Each redelivery waits at least its delay less the jitter (100, 200
	// and 400 ms, ±20 %), plus however long the redelivery took: the
	// delays grow whatever the load.
	require.GreaterOrEqual(t, d1, 80*time.Millisecond)
	require.GreaterOrEqual(t, d2, 160*time.Millisecond)
	require.GreaterOrEqual(t, d3, 320*time.Millisecond)
	require.Greater(t, d3, d1)
}

func TestPoisonMessageGoesToDLQAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rejected := b.facts(events.SubjectRequestRejected)
	dlq := b.facts(events.SubjectDLQAll)
	var poisonCalls atomic.Int32
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		MaxDeliver: 3, Backoff: func(uint64) time.Duration { return 300 * time.Millisecond },
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			if ev.Data.ConnectionID == "poison" {
				poisonCalls.Add(1)
				return errors.New("always fails")
			}
			return b.effect(ctx, ev)
		}})
	b.publish("bad", "poison")
	for i := range 5 {
		b.publish(fmt.Sprintf("ok-%d", i), "c")
	}
	// The good requests are served while the poison one waits for redelivery.
	require.Eventually(t, func() bool {
		for i := range 5 {
			if b.effects(fmt.Sprintf("ok-%d", i)) != 1 {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond)
	require.Less(t, int(poisonCalls.Load()), 3, "good requests did not wait for the poison one")

	require.Eventually(t, func() bool { return len(rejected()) == 1 && len(dlq()) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 3, poisonCalls.Load())
	data, ext := decodeData[events.RequestRejected](t, rejected()[0])
	require.Equal(t, "bad", data.RequestID)
	require.Contains(t, data.Reason, "gave up after 3 deliveries: always fails")
	require.Equal(t, "bad", ext[events.ExtCorrelationID])
	d := dlq()[0]
	require.Equal(t, "aam.dlq.connection.sync", d.Subject)
	require.Contains(t, d.Header.Get(bus.HeaderDLQReason), "always fails")
	require.Equal(t, "3", d.Header.Get(bus.HeaderDLQDeliveries))
	require.Equal(t, "bad", d.Header.Get("ce-id"), "the DLQ copy keeps the request")

	// Terminated: never redelivered.
	require.Eventually(t, func() bool { return b.consumerInfo("w").NumAckPending == 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // a redelivery would arrive within the 300 ms backoff
	require.EqualValues(t, 3, poisonCalls.Load())
}

func TestKillBetweenCommitAndAckDoesNotRepeatEffect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ns2nc, err := nats.Connect(b.nc.ConnectedUrl())
	require.NoError(t, err)
	defer ns2nc.Close()
	js2, err := jetstream.New(ns2nc)
	require.NoError(t, err)

	committed := make(chan struct{})
	var calls atomic.Int32
	route := bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		AckWait: time.Second,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			calls.Add(1)
			if err := b.effect(ctx, ev); err != nil {
				return err
			}
			close(committed)
			<-ctx.Done() // "killed": never returns to ack
			return ctx.Err()
		}}
	// First process: its own connection, which dies after the commit.
	rt1 := b.rt
	rt1.JS = js2
	rt1.SoftStop = 100 * time.Millisecond
	ctx1, cancel1 := context.WithCancel(b.ctx)
	done1 := make(chan struct{})
	go func() { defer close(done1); _ = bus.Serve(ctx1, rt1, route) }()
	b.publish("req-3", "c-3")
	<-committed
	ns2nc.Close() // the process is gone: no ack, no nak
	cancel1()
	<-done1

	// Second process takes over after AckWait.
	route.Handle = func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
		calls.Add(1)
		return b.effect(ctx, ev)
	}
	b.serve(route)
	require.Eventually(t, func() bool {
		i := b.consumerInfo("w")
		return i.AckFloor.Stream == 1 && i.NumAckPending == 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, b.effects("req-3"), "the effect happened once")
	require.EqualValues(t, 1, calls.Load(), "the redelivery was recognised before the handler ran")
}

func TestBadInputIsRejectedAndTerminated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rejected := b.facts(events.SubjectRequestRejected)
	dlq := b.facts(events.SubjectDLQAll)
	var calls atomic.Int32
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			calls.Add(1)
			return b.effect(ctx, ev)
		}})

	binary := func(drop string, set map[string]string) nats.Header {
		h := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"x-" + drop}, "ce-source": {"/test"},
			"ce-type": {events.TypeSyncRequested}, "ce-datacontenttype": {"application/json"}}
		delete(h, drop)
		for k, v := range set {
			h[k] = []string{v}
		}
		return h
	}
	cases := []struct {
		name  string
		h     nats.Header
		data  string
		field string
		id    string
	}{
		{"plain text", nil, "sync it please", "specversion", ""},
		{"json without attributes", nil, `{"connection_id":"c"}`, "specversion", ""},
		{"no id", binary("ce-id", nil), `{"connection_id":"c"}`, "id", ""},
		{"no type", binary("ce-type", nil), `{"connection_id":"c"}`, "type", "x-ce-type"},
		{"no source", binary("ce-source", nil), `{"connection_id":"c"}`, "source", "x-ce-source"},
		{"unknown type", binary("", map[string]string{"ce-id": "u1", "ce-type": "com.example.unknown"}), `{"connection_id":"c"}`, "type", "u1"},
		{"type of another subject", binary("", map[string]string{"ce-id": "u2", "ce-type": events.TypeRepairRequested}), `{"connection_id":"c"}`, "type", "u2"},
		{"data fails schema", binary("", map[string]string{"ce-id": "u3"}), `{"connection_id":""}`, "data.connection_id", "u3"},
		{"data not json", binary("", map[string]string{"ce-id": "u4"}), `{connection_id`, "data", "u4"},
	}
	for _, c := range cases {
		b.publishRaw(c.h, []byte(c.data))
	}
	b.publish("good", "c-ok")
	require.Eventually(t, func() bool { return len(rejected()) == len(cases) && len(dlq()) == len(cases) },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return b.effects("good") == 1 }, 5*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 1, calls.Load(), "the handler never saw bad input")

	byField := map[string][]events.RequestRejected{}
	for _, m := range rejected() {
		d, _ := decodeData[events.RequestRejected](t, m)
		byField[d.Field] = append(byField[d.Field], d)
		require.NotEmpty(t, d.Reason)
		require.Equal(t, events.SubjectSyncRequest, d.Subject)
	}
	for _, c := range cases {
		found := false
		for _, d := range byField[c.field] {
			if d.RequestID == c.id {
				found = true
			}
		}
		require.True(t, found, "%s: a rejection naming field %q for request %q; got %+v", c.name, c.field, c.id, byField)
	}
	// Terminated, never redelivered.
	require.Eventually(t, func() bool {
		i := b.consumerInfo("w")
		return i.NumAckPending == 0 && i.NumRedelivered == 0 && i.AckFloor.Stream == uint64(len(cases)+1)
	}, 5*time.Second, 10*time.Millisecond)
}

func TestPermanentErrorCallsFail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failed := b.facts(events.SubjectSyncFailed)
	dlq := b.facts(events.SubjectDLQAll)
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			return bus.Permanentf("connection %s is not ACTIVE", ev.Data.ConnectionID)
		},
		Fail: func(ctx context.Context, ev bus.Event[events.SyncRequested], cause error) error {
			return b.store.InTx(ctx, func(q *registry.Queries) error {
				ok, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type, Outcome: registry.OutcomeFailed, Reason: cause.Error()})
				if err != nil || !ok {
					return err
				}
				return outbox.Emit(ctx, q, events.TypeSyncFailed, "/aam/test", ev.Data.ConnectionID, outbox.RequestOf(ev),
					events.SyncFinished{ConnectionID: ev.Data.ConnectionID, Status: events.JobFailed, ErrorMessage: cause.Error()})
			})
		}})
	b.publish("req-5", "c-5")
	require.Eventually(t, func() bool { return len(failed()) == 1 && len(dlq()) == 1 }, 5*time.Second, 10*time.Millisecond)
	d, ext := decodeData[events.SyncFinished](t, failed()[0])
	require.Equal(t, "connection c-5 is not ACTIVE", d.ErrorMessage)
	require.Equal(t, "req-5", ext[events.ExtCorrelationID])
	require.Equal(t, "c-5", failed()[0].Header.Get("ce-subject"))

	// A copy republished after the dedup window is recognised as ended.
	b.publish("req-5", "c-5")
	require.Eventually(t, func() bool { return b.consumerInfo("w").AckFloor.Stream >= 1 }, 5*time.Second, 10*time.Millisecond)
	require.Len(t, failed(), 1)
}

func TestPanicIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Backoff: func(uint64) time.Duration { return 10 * time.Millisecond },
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			return b.effect(ctx, ev)
		}})
	b.publish("req-6", "c-6")
	require.Eventually(t, func() bool { return b.effects("req-6") == 1 }, 5*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 2, calls.Load())
}

func TestShutdownNaksInFlightQuickly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{})
	var once sync.Once
	route := bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return ctx.Err()
		}}
	rt := b.rt
	rt.SoftStop = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- bus.Serve(ctx, rt, route) }()
	b.publish("req-7", "c-7")
	<-started
	t0 := time.Now()
	cancel()
	require.NoError(t, <-done)
	require.Less(t, time.Since(t0), 3*time.Second)

	// Another instance gets the request right away (nak, not AckWait).
	route.Handle = func(ctx context.Context, ev bus.Event[events.SyncRequested]) error { return b.effect(ctx, ev) }
	b.serve(route)
	require.Eventually(t, func() bool { return b.effects("req-7") == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Less(t, time.Since(t0), 10*time.Second)
}

func TestDataFailingItsSchemaIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rt.Validate = bus.SchemaValidator()
	rejected := b.facts(events.SubjectRequestRejected)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() {
		done <- bus.Serve(ctx, b.rt, bus.Route[events.RepairRequested]{Consumer: "r", Subject: events.SubjectRepairRequest,
			Type: events.TypeRepairRequested, Handle: func(context.Context, bus.Event[events.RepairRequested]) error { return nil }})
	}()
	defer func() { cancel(); require.NoError(t, <-done) }()
	for id, data := range map[string]string{
		"s1": `{"connection_id":"not-a-uuid","new_sync_catalog":{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]}}`,
		"s2": `{"connection_id":"0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d","new_sync_catalog":{"streams":[{"stream":{"name":"Account","json_schema":{},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":"sometimes","destination_sync_mode":"append_dedup"}]}}`,
		"s3": `{"connection_id":"0193a0c4-2b8e-7c6f-9a1d-3e5f7a9b1c2d"}`,
	} {
		h := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {id}, "ce-source": {"/test"},
			"ce-type": {events.TypeRepairRequested}, "ce-datacontenttype": {"application/json"}}
		msg := nats.NewMsg(events.SubjectRepairRequest)
		msg.Header, msg.Data = h, []byte(data)
		_, err := b.js.PublishMsg(b.ctx, msg)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(rejected()) == 3 }, 5*time.Second, 10*time.Millisecond)
	fields := map[string]string{}
	for _, m := range rejected() {
		d, _ := decodeData[events.RequestRejected](t, m)
		fields[d.RequestID] = d.Field
	}
	require.Equal(t, map[string]string{
		"s1": "data.connection_id",
		"s2": "data.new_sync_catalog.streams[0].sync_mode",
		"s3": "data.new_sync_catalog",
	}, fields)
}

func TestTraceContextReachesFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	succeeded := b.facts(events.SubjectSyncSucceeded)
	var seen sync.Map
	b.serve(bus.Route[events.SyncRequested]{Consumer: "w", Subject: events.SubjectSyncRequest, Type: events.TypeSyncRequested,
		Handle: func(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
			seen.Store(ev.ID, ev.TraceParent)
			return b.effect(ctx, ev)
		}})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e, err := events.New(events.TypeSyncRequested, "/test", events.SyncRequested{ConnectionID: "c-t"},
		events.WithID("traced"), events.WithTraceParent(tp))
	require.NoError(t, err)
	_, err = bus.NewPublisher(b.js).Publish(b.ctx, events.SubjectSyncRequest, e, events.Binary)
	require.NoError(t, err)
	b.publish("untraced", "c-u")
	require.Eventually(t, func() bool { return len(succeeded()) == 2 }, 5*time.Second, 10*time.Millisecond)
	byID := map[string]string{}
	for _, m := range succeeded() {
		ev, _, err := events.FromMsg(m)
		require.NoError(t, err)
		byID[events.CorrelationID(ev)] = events.TraceParent(ev)
	}
	require.Equal(t, tp, byID["traced"], "the request's trace id is on its completion event")
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`, byID["untraced"], "an untraced request gets a trace of its own")
	v, _ := seen.Load("untraced")
	require.Equal(t, byID["untraced"], v)
}
