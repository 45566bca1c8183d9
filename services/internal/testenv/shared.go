package testenv

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/dbtest"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// NewWithNATS builds an environment like New on an existing NATS
// connection instead of a server of its own: a JetStream cluster's, for
// example (see bustest.NewCluster). The caller provisions AAM's streams
// (with the replicas it wants) and closes nc after the test; Env.NS is
// nil. Everything else (registry schema, emulator, Airbyte client, Deps,
// fact collection, relay) is as New makes it.
func NewWithNATS(t testing.TB, nc *nats.Conn, js jetstream.JetStream, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{T: t, Ctx: ctx, NC: nc, JS: js}
	core, logs := observer.New(zapcore.DebugLevel)
	e.Log = zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel)).Core(), core))
	e.Logs = logs

	e.Schema = dbtest.NewSchema(t, dbtest.Options{MaxConns: 16})
	e.Store = registry.NewStore(e.Schema.Pool)

	ecfg := o.Emulator
	if ecfg.Seed == 0 {
		ecfg.Seed = 1
	}
	e.Emulator = emulator.New(ecfg)
	srv := httptest.NewServer(e.Emulator.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(e.Emulator.Close)
	e.AirbyteURL = srv.URL + "/api/public/v1"

	client, err := airbyte.New(e.AirbyteConfig(o.Airbyte), airbyte.WithLogger(e.Log))
	require.NoError(t, err)
	e.Airbyte = client

	e.Deps = e.NewDeps("test", nc, js)

	sub, err := nc.Subscribe(events.SubjectEventsAll, func(m *nats.Msg) {
		e.mu.Lock()
		e.facts = append(e.facts, m)
		e.mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	var wg sync.WaitGroup
	if !o.NoRelay {
		relay := outbox.NewRelay(e.Store, js, outbox.RelayConfig{PollInterval: 10 * time.Millisecond, Logger: e.Log})
		wg.Add(1)
		go func() { defer wg.Done(); _ = relay.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// AirbyteConfig returns the client configuration for the environment's
// emulator: base is kept, with BaseURL and credentials set and, when base
// leaves it zero, no client-side rate limit. Give it to Deps.Airbyte for a
// client whose calls are exported as the role's metrics.
func (e *Env) AirbyteConfig(base airbyte.Config) airbyte.Config {
	base.BaseURL = e.AirbyteURL
	base.ClientID = e.Emulator.Config().ClientID
	base.ClientSecret = airbyte.NewSecret(e.Emulator.Config().ClientSecret)
	if base.RateLimit == 0 {
		base.RateLimit = -1
	}
	return base
}

// NewDeps returns the dependencies of one more role instance on the
// environment's database: its own registry Store over the shared pool, its
// own Prometheus registry (with the bus metrics and a health handler that
// checks PostgreSQL and NATS), logging to the environment's logger named
// role, on the given NATS connection (nil: the environment's). Deps.Close
// is not needed: the pool and the connection belong to the test.
func (e *Env) NewDeps(role string, nc *nats.Conn, js jetstream.JetStream) *app.Deps {
	if nc == nil {
		nc, js = e.NC, e.JS
	}
	reg := observability.NewRegistry()
	store := registry.NewStore(e.Schema.Pool)
	return &app.Deps{
		Role: role, Log: e.Log.Named(role), Metrics: reg,
		Health:     observability.NewHandler(reg, observability.Check{Name: "postgres", Fn: store.Ping}, app.NATSCheck(nc)),
		Pool:       e.Schema.Pool,
		Store:      store,
		NC:         nc,
		JS:         js,
		BusMetrics: bus.NewMetrics(reg),
	}
}
