package testenv

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// WorkerEnvOptions tune NewWorkerEnv.
type WorkerEnvOptions struct {
	// Emulator configures the Airbyte emulator.
	Emulator emulator.Config
	// Airbyte overrides client settings. Zero BackoffBase and
	// BreakerOpenTimeout take test values: retries after 5 to 50 ms, a
	// breaker that tries again after 100 ms.
	Airbyte airbyte.Config
	// Transport wraps the client's transport, after the call log.
	Transport func(http.RoundTripper) http.RoundTripper
}

// NewWorkerEnv builds an environment for a worker's tests: the Airbyte
// client records every call in the returned CallLog, retries fast, and the
// outbox is published by the environment's own relay (StartRelay), so that
// parallel tests do not wait for each other.
func NewWorkerEnv(t testing.TB, o WorkerEnvOptions) (*Env, *CallLog) {
	t.Helper()
	calls := &CallLog{}
	rt := calls.Transport(nil)
	if o.Transport != nil {
		rt = o.Transport(rt)
	}
	acfg := o.Airbyte
	acfg.HTTPClient = &http.Client{Transport: rt}
	if acfg.BackoffBase == 0 {
		acfg.BackoffBase, acfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	}
	if acfg.BreakerOpenTimeout == 0 {
		acfg.BreakerOpenTimeout = 100 * time.Millisecond
	}
	env := New(t, Options{Emulator: o.Emulator, Airbyte: acfg, NoRelay: true})
	env.StartRelay()
	return env, calls
}

// QuickDelivery is the delivery of a worker under test: the worker's own
// concurrency, a 500 ms acknowledgement wait, 20 ms between deliveries and
// maxDeliver deliveries (0: the runtime's default).
func QuickDelivery(maxDeliver int) app.Delivery {
	return app.Delivery{Redelivery: bus.Redelivery{AckWait: 500 * time.Millisecond, MaxDeliver: maxDeliver,
		Backoff: func(uint64) time.Duration { return 20 * time.Millisecond }}}
}

// WorkerOptions tune StartWorker.
type WorkerOptions struct {
	// OwnConn gives the worker a NATS connection of its own, which Kill
	// closes.
	OwnConn bool
	// CrashAt makes the first delivery that reaches this crash point die
	// there: the worker's own connection is closed first (no ack, no nak:
	// JetStream redelivers after AckWait), then the crash hook returns
	// ErrKilled.
	CrashAt string
}

// ErrKilled is what the crash hook of a worker started with CrashAt
// returns at that point.
var ErrKilled = errors.New("worker killed")

// Worker is a worker running in a test.
type Worker struct {
	// NC is the worker's own NATS connection (nil unless OwnConn or
	// CrashAt).
	NC *nats.Conn
	// Crashed is closed when the worker dies at its CrashAt point.
	Crashed chan struct{}
	// Stop stops the worker and waits for it.
	Stop func()
}

// StartWorker runs a worker until the test ends. build makes it from a copy
// of the environment's Deps (on the worker's own connection when it has
// one) and the hook to call at each crash point (nil without CrashAt), and
// returns its Run.
func (e *Env) StartWorker(o WorkerOptions, build func(deps *app.Deps, crash func(point string) error) func(context.Context) error) *Worker {
	e.T.Helper()
	deps := *e.Deps
	w := &Worker{Crashed: make(chan struct{})}
	if o.OwnConn || o.CrashAt != "" {
		w.NC, deps.JS = bustest.Connect(e.T, e.NS)
		deps.NC = w.NC
	}
	var crash func(string) error
	if o.CrashAt != "" {
		var once sync.Once
		crash = func(p string) error {
			if p != o.CrashAt {
				return nil
			}
			fired := false
			once.Do(func() {
				fired = true
				w.NC.Close()
				close(w.Crashed)
			})
			if fired {
				return ErrKilled
			}
			return nil
		}
	}
	w.Stop = e.Go(build(&deps, crash))
	return w
}

// Kill stops a worker the hard way: its connection closes under it.
func (w *Worker) Kill() {
	if w.NC != nil {
		w.NC.Close()
	}
	go w.Stop()
}

// AnswerLoss loses the answer to the first call with Method and a path
// ending in PathSuffix, as a connection reset after Airbyte acted would, and
// kills the worker that sent it at that instant: the worker's own NATS
// connection closes (no ack, no nak).
type AnswerLoss struct {
	lossy  LossyTransport
	killed chan struct{}
	worker atomic.Pointer[Worker]
}

// NewAnswerLoss returns an AnswerLoss for calls with method and a path
// ending in pathSuffix. Give its Transport to WorkerEnvOptions.Transport and
// the worker to kill to Kills.
func NewAnswerLoss(method, pathSuffix string) *AnswerLoss {
	a := &AnswerLoss{lossy: LossyTransport{Method: method, PathSuffix: pathSuffix}, killed: make(chan struct{})}
	a.lossy.OnLoss = func() {
		a.worker.Load().NC.Close()
		close(a.killed)
	}
	return a
}

// Transport wraps next with the loss.
func (a *AnswerLoss) Transport(next http.RoundTripper) http.RoundTripper {
	a.lossy.Next = next
	return &a.lossy
}

// Kills names the worker to kill (started with OwnConn) and returns it.
func (a *AnswerLoss) Kills(w *Worker) *Worker {
	a.worker.Store(w)
	return w
}

// Wait waits until the answer was lost, and fails the test after 15 s.
func (a *AnswerLoss) Wait(t testing.TB) {
	t.Helper()
	select {
	case <-a.killed:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s …%s was never sent", a.lossy.Method, a.lossy.PathSuffix)
	}
}

// OutboxTypes counts the outbox rows answering a request, by event type.
func (e *Env) OutboxTypes(requestID string) map[string]int {
	e.T.Helper()
	msgs, err := e.Store.OutboxByCorrelation(context.Background(), requestID)
	require.NoError(e.T, err)
	out := map[string]int{}
	for _, m := range msgs {
		out[m.EventType]++
	}
	return out
}

// Connection returns a registry connection.
func (e *Env) Connection(id string) registry.Connection {
	e.T.Helper()
	c, err := e.Store.ConnectionGet(context.Background(), id)
	require.NoError(e.T, err)
	return c
}
