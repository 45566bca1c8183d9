// Package app wires what every AAM role shares: logger, metrics, health
// endpoints, the PostgreSQL pool, the NATS connection and the worker
// runtime, and runs a role's parts together until the process is told to
// stop.
package app

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/aam-mesh/aam/migrations"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
)

// Common is the configuration every worker role embeds.
type Common struct {
	config.Log
	config.HTTP
	config.Postgres
	config.NATS
	observability.Tracing
}

// Deps are a role's shared dependencies.
type Deps struct {
	Role    string
	Log     *zap.Logger
	Metrics *prometheus.Registry
	Health  *observability.Handler
	Pool    *pgxpool.Pool
	Store   *registry.Store
	NC      *nats.Conn
	JS      jetstream.JetStream
	// BusMetrics are shared by every consumer of the process.
	BusMetrics *bus.Metrics
	// ConsumerStateInterval is how often the consumers' pending counts are
	// sampled for BusMetrics (default: the runtime's, 5 s).
	ConsumerStateInterval time.Duration
	// ConsumerHeartbeat is the heartbeat of the consumers' pull requests
	// (default: the runtime's, 5 s); a pull request lost in a NATS
	// failover is sent again after two missed heartbeats.
	ConsumerHeartbeat time.Duration

	stopTracing    func(context.Context) error
	airbyteMetrics *observability.AirbyteMetrics
}

// Runtime returns the worker runtime for this process: registry ledger,
// schema validation and metrics.
func (d *Deps) Runtime(source string) bus.Runtime {
	return bus.Runtime{
		JS: d.JS, Logger: d.Log, Ledger: outbox.NewLedger(d.Store, source),
		Validate: bus.SchemaValidator(), Metrics: d.BusMetrics, Source: source,
		StateInterval: d.ConsumerStateInterval, PullHeartbeat: d.ConsumerHeartbeat,
	}
}

// Close releases the connections.
func (d *Deps) Close() {
	if d.stopTracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.stopTracing(ctx)
		cancel()
	}
	if d.NC != nil {
		_ = d.NC.Drain()
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Provision creates or updates AAM's streams at start-up. Workers and
	// `aam migrate up` do; roles whose NATS user may not manage streams
	// (gateway, broker, observer) do not.
	Provision bool
}

// Open connects to PostgreSQL and NATS, provisions the streams when asked
// and sets up logging, metrics and health checks.
func Open(ctx context.Context, role string, c Common, log *zap.Logger, opts ...OpenOptions) (*Deps, error) {
	var o OpenOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	d := &Deps{Role: role, Log: log, Metrics: observability.NewRegistry()}
	stop, err := observability.SetupTracing(ctx, c.Tracing, "aam-"+role)
	if err != nil {
		return nil, err
	}
	d.stopTracing = stop
	d.Health = observability.NewHandler(d.Metrics)
	d.BusMetrics = bus.NewMetrics(d.Metrics)
	pool, err := OpenPostgres(ctx, c.Postgres, role)
	if err != nil {
		return nil, err
	}
	d.Pool, d.Store = pool, registry.NewStore(pool)
	d.Health.AddCheck(observability.Check{Name: "postgres", Fn: d.Store.Ping})
	nc, js, err := ConnectNATS(ctx, c.NATS, "aam-"+role, log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	d.NC, d.JS = nc, js
	d.Health.AddCheck(NATSCheck(nc))
	if o.Provision {
		if err := bus.Provision(ctx, js, bus.StreamsConfig{Replicas: c.StreamReplicas}); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// OpenPostgres opens a pool and waits (until ctx ends, at most 60 s) for
// the database to answer, so that roles may start before it.
func OpenPostgres(ctx context.Context, c config.Postgres, appName string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(c.URL.Value())
	if err != nil {
		return nil, errors.New("DATABASE_URL: not a valid PostgreSQL URL")
	}
	cfg.MaxConns = cmp.Or(c.MaxConns, 16)
	cfg.ConnConfig.RuntimeParams["application_name"] = "aam-" + appName
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		err = pool.Ping(wctx)
		if err == nil {
			return pool, nil
		}
		select {
		case <-wctx.Done():
			pool.Close()
			return nil, fmt.Errorf("postgres at %s not reachable: %w", cfg.ConnConfig.Host, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Migrate applies the registry migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer func(db *sql.DB) { _ = db.Close() }(db)
	return migrations.Up(ctx, db, "")
}

// ConnectNATS connects with endless reconnects and returns the JetStream
// context. It waits (until ctx ends, at most 60 s) for a server.
func ConnectNATS(ctx context.Context, c config.NATS, name string, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted())) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats error", zap.String("subscription", subj), zap.Error(err))
		}),
	}
	opts = append(opts, NATSOptions(c)...)
	nc, err := nats.Connect(strings.TrimSpace(c.URL), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for !nc.IsConnected() {
		select {
		case <-wctx.Done():
			nc.Close()
			return nil, nil, fmt.Errorf("nats at %s not reachable", c.URL)
		case <-time.After(100 * time.Millisecond):
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// NATSOptions are the connection options c asks for: the user and
// password or the credentials file, and the inbox prefix. Every AAM
// process that connects to NATS, the command line included, uses them.
func NATSOptions(c config.NATS) []nats.Option {
	var opts []nats.Option
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password.Value()))
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	return opts
}

// NATSCheck is a readiness check on a connection.
func NATSCheck(nc *nats.Conn) observability.Check {
	return observability.Check{Name: "nats", Fn: func(ctx context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nc.FlushWithContext(ctx)
	}}
}

// Runner is one long-running part of a role.
type Runner func(ctx context.Context) error

// Consume is the runner of a durable consumer: bus.Serve of route on rt.
func Consume[T any](rt bus.Runtime, route bus.Route[T]) Runner {
	return func(ctx context.Context) error { return bus.Serve(ctx, rt, route) }
}

// Run runs the runners until ctx is cancelled or one fails; the others are
// then cancelled, and Run waits for all of them.
func Run(ctx context.Context, runners ...Runner) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range runners {
		g.Go(func() error { return r(gctx) })
	}
	return g.Wait()
}

// HealthServer is a Runner serving the role's health and metrics endpoints
// on addr.
func (d *Deps) HealthServer(addr string) Runner {
	return func(ctx context.Context) error {
		mux := http.NewServeMux()
		d.Health.Register(mux)
		return observability.Serve(ctx, addr, mux, d.Log)
	}
}

// Airbyte returns an Airbyte client for this role, logging through the
// role's logger and exporting its calls, errors, breaker state and
// admission control as metrics.
func (d *Deps) Airbyte(cfg airbyte.Config, opts ...airbyte.Option) (*airbyte.Client, error) {
	if d.airbyteMetrics == nil {
		d.airbyteMetrics = observability.NewAirbyteMetrics(d.Metrics)
	}
	opts = append([]airbyte.Option{airbyte.WithLogger(d.Log), airbyte.WithObserver(d.airbyteMetrics)}, opts...)
	c, err := airbyte.New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	d.airbyteMetrics.Watch(c)
	return c, nil
}

// Relay is a Runner relaying this process's outbox commits (and any other's,
// when it holds the relay lock) to JetStream.
func (d *Deps) Relay() Runner {
	r := outbox.NewRelay(d.Store, d.JS, outbox.RelayConfig{Logger: d.Log, Registerer: d.Metrics})
	return r.Run
}
