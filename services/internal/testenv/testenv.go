// Package testenv assembles a real AAM environment for tests: an in-process
// JetStream server, a migrated PostgreSQL schema of the test's own, the
// Airbyte emulator behind an HTTP server, an Airbyte client for it, the
// shared role dependencies (app.Deps) and a relay publishing the outbox.
// Facts published on aam.events.> are collected for assertions.
package testenv

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Options tune New.
type Options struct {
	// Emulator configures the Airbyte emulator (zero: instant jobs,
	// deterministic seed 1).
	Emulator emulator.Config
	// Airbyte overrides client settings (BaseURL and credentials are set by
	// New; RateLimit defaults to unlimited).
	Airbyte airbyte.Config
	// NoRelay leaves the outbox unpublished.
	NoRelay bool
}

// Env is a running test environment.
type Env struct {
	T        testing.TB
	Ctx      context.Context
	NS       *server.Server
	NC       *nats.Conn
	JS       jetstream.JetStream
	Schema   *dbtest.Schema
	Store    *registry.Store
	Emulator *emulator.Emulator
	// AirbyteURL is the public API base URL of the emulator.
	AirbyteURL string
	Airbyte    *airbyte.Client
	Deps       *app.Deps
	// Log writes to the test log; Logs captures every entry (all levels)
	// for leak checks.
	Log  *zap.Logger
	Logs *observer.ObservedLogs

	mu    sync.Mutex
	facts []*nats.Msg
	all   []*nats.Msg
}

// New builds an environment on an in-process JetStream server of its own;
// everything stops when the test ends.
func New(t testing.TB, opts ...Options) *Env {
	t.Helper()
	ns, nc, js := bustest.Provisioned(t)
	e := NewWithNATS(t, nc, js, opts...)
	e.NS = ns
	return e
}

// Go runs fn until the test ends (or until stop is called) and fails the
// test if fn returns an error.
func (e *Env) Go(fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && ctx.Err() == nil {
				e.T.Errorf("testenv: runner: %v", err)
			}
		})
	}
	e.T.Cleanup(stop)
	return stop
}

// Publish publishes a request of type eventType with data and returns its id.
func (e *Env) Publish(eventType string, data any, opts ...events.Option) string {
	e.T.Helper()
	d, ok := events.Lookup(eventType)
	require.True(e.T, ok, "unknown type %s", eventType)
	ev, err := events.New(eventType, "/test/"+e.T.Name(), data, opts...)
	require.NoError(e.T, err)
	_, err = bus.NewPublisher(e.JS).Publish(e.Ctx, d.Subject, ev, events.Binary)
	require.NoError(e.T, err)
	return ev.ID()
}

// Facts returns the facts answering a request (correlationid = requestID),
// in arrival order.
func (e *Env) Facts(requestID string) []event.Event {
	e.mu.Lock()
	msgs := append([]*nats.Msg(nil), e.facts...)
	e.mu.Unlock()
	var out []event.Event
	for _, m := range msgs {
		ev, _, err := events.FromMsg(m)
		if err != nil {
			e.T.Errorf("testenv: undecodable fact on %s: %v", m.Subject, err)
			continue
		}
		if requestID == "" || events.CorrelationID(ev) == requestID {
			out = append(out, ev)
		}
	}
	return out
}

// FactsAbout returns the facts of factType about a connection (subject =
// connectionID), in arrival order.
func (e *Env) FactsAbout(factType, connectionID string) []event.Event {
	var out []event.Event
	for _, f := range e.Facts("") {
		if f.Type() == factType && f.Subject() == connectionID {
			out = append(out, f)
		}
	}
	return out
}

// WaitFact waits for a fact of factType answering requestID and returns it.
func (e *Env) WaitFact(requestID, factType string, timeout ...time.Duration) event.Event {
	e.T.Helper()
	d := 15 * time.Second
	if len(timeout) > 0 {
		d = timeout[0]
	}
	var found event.Event
	require.Eventually(e.T, func() bool {
		for _, f := range e.Facts(requestID) {
			if f.Type() == factType {
				found = f
				return true
			}
		}
		return false
	}, d, 10*time.Millisecond, "no %s fact for request %s; facts: %v", factType, requestID, factTypes(e.Facts(requestID)))
	return found
}

func factTypes(fs []event.Event) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Type())
	}
	return out
}

// Data decodes a fact's data into T.
func Data[T any](t testing.TB, ev event.Event) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(ev.Data(), &v))
	return v
}

// PublishCopy publishes a request again with the id of an earlier one and
// without the Nats-Msg-Id header, so that JetStream stores it again: a
// copy as it arrives after the stream's duplicate window. It returns the
// copy's stream sequence (for WaitAcked).
func (e *Env) PublishCopy(eventType, id string, data any, opts ...events.Option) uint64 {
	e.T.Helper()
	d, ok := events.Lookup(eventType)
	require.True(e.T, ok, "unknown type %s", eventType)
	ev, err := events.New(eventType, "/test/"+e.T.Name(), data, append(opts, events.WithID(id))...)
	require.NoError(e.T, err)
	msg, err := events.ToMsg(d.Subject, ev, events.Binary)
	require.NoError(e.T, err)
	return e.publishAgain(msg)
}

// CopyLast publishes again the last request stored on subject, as
// PublishCopy does, and returns the copy's stream sequence.
func (e *Env) CopyLast(subject string) uint64 {
	e.T.Helper()
	stream, err := e.JS.Stream(e.Ctx, bus.StreamRequests)
	require.NoError(e.T, err)
	stored, err := stream.GetLastMsgForSubject(e.Ctx, subject)
	require.NoError(e.T, err)
	msg := nats.NewMsg(subject)
	msg.Header, msg.Data = stored.Header, stored.Data
	return e.publishAgain(msg)
}

// publishAgain publishes msg without its Nats-Msg-Id header.
func (e *Env) publishAgain(msg *nats.Msg) uint64 {
	e.T.Helper()
	msg.Header.Del(events.HeaderMsgID)
	ack, err := e.JS.PublishMsg(e.Ctx, msg)
	require.NoError(e.T, err)
	return ack.Sequence
}

// WaitAcked waits until consumer has acknowledged every request up to the
// stream sequence seq.
func (e *Env) WaitAcked(consumer string, seq uint64) {
	e.T.Helper()
	require.Eventually(e.T, func() bool {
		c, err := e.JS.Consumer(e.Ctx, bus.StreamRequests, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(e.Ctx)
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
	}, 15*time.Second, 10*time.Millisecond)
}
