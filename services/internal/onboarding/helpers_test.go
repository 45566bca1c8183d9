package onboarding

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/services/internal/app"
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
	env, calls := testenv.NewWorkerEnv(t, testenv.WorkerEnvOptions{Emulator: o.emulator, Airbyte: o.airbyte, Transport: o.transport})
	b := &bundle{env: env, calls: calls}
	if !o.noBroker {
		b.broker = env.StartBroker()
	}
	return b
}

// workerOpts tune a worker started by start.
type workerOpts struct {
	// ownConn gives the worker its own NATS connection, which Kill closes.
	ownConn bool
	// crashAt makes the first delivery that reaches this crash point die
	// there (the worker's connection is closed first).
	crashAt    string
	maxDeliver int
}

func (b *bundle) config() Config {
	return Config{
		WorkspaceID: b.env.Emulator.WorkspaceID(), DestinationID: b.env.Emulator.DestinationID(),
		Delivery: testenv.QuickDelivery(8),
	}
}

func (b *bundle) start(t *testing.T, opts ...workerOpts) *testenv.Worker {
	t.Helper()
	var o workerOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	return b.env.StartWorker(testenv.WorkerOptions{OwnConn: o.ownConn, CrashAt: o.crashAt}, func(deps *app.Deps, crash func(string) error) func(context.Context) error {
		cfg := b.config()
		if o.maxDeliver != 0 {
			cfg.MaxDeliver = o.maxDeliver
		}
		w, err := New(deps, b.env.Airbyte, credentials.NewClient(deps.NC, credentials.ClientOptions{Timeout: time.Second}), cfg)
		require.NoError(t, err)
		w.crash = crash
		return w.Run
	})
}

func (b *bundle) request(name string, streams ...string) (string, events.OnboardRequested) {
	data := events.OnboardRequested{SourceType: "Salesforce", ConnectionName: name,
		CredentialID: testenv.SalesforceCredentialID, Streams: streams}
	return b.env.Publish(events.TypeOnboardRequested, data), data
}

func (b *bundle) requestSource() string { return "/test/" + b.env.T.Name() }

// sourcesNamed and connectionsNamed return the emulator's objects by name.
func (b *bundle) sourcesNamed(name string) []emulator.SourceSnapshot {
	return withName(b.env.Emulator.Sources(), name, func(s emulator.SourceSnapshot) string { return s.Name })
}

func (b *bundle) connectionsNamed(name string) []emulator.ConnectionSnapshot {
	return withName(b.env.Emulator.Connections(), name, func(c emulator.ConnectionSnapshot) string { return c.Name })
}

// withName returns the objects of all whose nameOf is name.
func withName[T any](all []T, name string, nameOf func(T) string) []T {
	var out []T
	for _, v := range all {
		if nameOf(v) == name {
			out = append(out, v)
		}
	}
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

// airbyteNoRetry makes the client give up after one attempt.
func airbyteNoRetry() airbyte.Config { return airbyte.Config{MaxAttempts: 1} }
