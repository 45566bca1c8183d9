package onboarding

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/bustest"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/testenv"
)

// bundle is one test's environment: the test environment, the credential
// broker and the calls the Airbyte client sent.
type bundle struct {
	env    *testenv.Env
	broker *testenv.Broker
	calls  *testenv.CallLog
}

type setupOpts struct {
	emulator emulator.Config
	airbyte  airbyte.Config
	// transport wraps the client's transport (after the call log).
	transport func(http.RoundTripper) http.RoundTripper
	// noBroker leaves the credential broker stopped (start it with
	// env.StartBroker).
	noBroker bool
}

func setup(t *testing.T, opts ...setupOpts) *bundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	calls := &testenv.CallLog{}
	rt := calls.Transport(nil)
	if o.transport != nil {
		rt = o.transport(rt)
	}
	acfg := o.airbyte
	acfg.HTTPClient = &http.Client{Transport: rt}
	if acfg.BackoffBase == 0 {
		acfg.BackoffBase, acfg.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	}
	if acfg.BreakerOpenTimeout == 0 {
		acfg.BreakerOpenTimeout = 100 * time.Millisecond
	}
	env := testenv.New(t, testenv.Options{Emulator: o.emulator, Airbyte: acfg, NoRelay: true})
	env.StartRelay()
	b := &bundle{env: env, calls: calls}
	if !o.noBroker {
		b.broker = env.StartBroker()
	}
	return b
}

// workerOpts tune a worker started by start.
type workerOpts struct {
	// ownConn gives the worker its own NATS connection, which kill closes.
	ownConn bool
	// crashAt makes the first delivery that reaches this crash point die
	// there (the worker's connection is closed first).
	crashAt    string
	maxDeliver int
}

// runningWorker is a worker running in the test.
type runningWorker struct {
	w       *Worker
	nc      *nats.Conn
	stop    func()
	crashed chan struct{}
}

var errKilled = errors.New("worker killed")

func (b *bundle) config() Config {
	return Config{
		WorkspaceID: b.env.Emulator.WorkspaceID(), DestinationID: b.env.Emulator.DestinationID(),
		Redelivery: bus.Redelivery{AckWait: 500 * time.Millisecond, MaxDeliver: 8,
			Backoff: func(uint64) time.Duration { return 20 * time.Millisecond }},
	}
}

func (b *bundle) start(t *testing.T, opts ...workerOpts) *runningWorker {
	t.Helper()
	var o workerOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	deps := *b.env.Deps
	rw := &runningWorker{crashed: make(chan struct{})}
	if o.ownConn || o.crashAt != "" {
		rw.nc, deps.JS = bustest.Connect(t, b.env.NS)
		deps.NC = rw.nc
	}
	cfg := b.config()
	if o.maxDeliver != 0 {
		cfg.MaxDeliver = o.maxDeliver
	}
	w, err := New(&deps, b.env.Airbyte, credentials.NewClient(deps.NC, credentials.ClientOptions{Timeout: time.Second}), cfg)
	require.NoError(t, err)
	rw.w = w
	if o.crashAt != "" {
		var once sync.Once
		w.crash = func(p string) error {
			if p != o.crashAt {
				return nil
			}
			fired := false
			once.Do(func() {
				fired = true
				rw.nc.Close() // no ack, no nak: JetStream redelivers after AckWait
				close(rw.crashed)
			})
			if fired {
				return errKilled
			}
			return nil
		}
	}
	rw.stop = b.env.Go(w.Run)
	return rw
}

// kill stops a worker the hard way: its connection closes under it.
func (rw *runningWorker) kill() {
	if rw.nc != nil {
		rw.nc.Close()
	}
	go rw.stop()
}

func (b *bundle) request(name string, streams ...string) (string, events.OnboardRequested) {
	data := events.OnboardRequested{SourceType: "Salesforce", ConnectionName: name,
		CredentialID: testenv.SalesforceCredentialID, Streams: streams}
	return b.env.Publish(events.TypeOnboardRequested, data), data
}

func (b *bundle) requestSource() string { return "/test/" + b.env.T.Name() }

// sourcesNamed and connectionsNamed count the emulator's objects by name.
func (b *bundle) sourcesNamed(name string) []emulator.SourceSnapshot {
	var out []emulator.SourceSnapshot
	for _, s := range b.env.Emulator.Sources() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (b *bundle) connectionsNamed(name string) []emulator.ConnectionSnapshot {
	var out []emulator.ConnectionSnapshot
	for _, c := range b.env.Emulator.Connections() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// outboxFor counts the outbox rows answering a request, by type.
func (b *bundle) outboxFor(t *testing.T, requestID string) map[string]int {
	t.Helper()
	rows, err := b.env.Store.Pool().Query(context.Background(),
		`SELECT event_type FROM outbox WHERE correlation_id = $1`, requestID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		out[typ]++
	}
	require.NoError(t, rows.Err())
	return out
}

// factIDs returns the distinct ids of the facts of a type answering a request.
func (b *bundle) factIDs(requestID, factType string) map[string]bool {
	ids := map[string]bool{}
	for _, f := range b.env.Facts(requestID) {
		if f.Type() == factType {
			ids[f.ID()] = true
		}
	}
	return ids
}

func (b *bundle) connection(t *testing.T, id string) registry.Connection {
	t.Helper()
	c, err := b.env.Store.ConnectionGet(context.Background(), id)
	require.NoError(t, err)
	return c
}

// airbyteNoRetry makes the client give up after one attempt.
func airbyteNoRetry() airbyte.Config { return airbyte.Config{MaxAttempts: 1} }
