// Package broker is the credential broker role: it serves the credentials
// kept (encrypted) in the registry over NATS request/reply as the micro
// service aam-credentials (see package credentials), imports the
// environment's SALESFORCE_* credential at start, and serves /healthz,
// /readyz (PostgreSQL and NATS) and /metrics.
//
// The broker needs no JetStream: it only answers requests. Run runs it as
// a process; Start runs it on the dependencies of a process that has them
// already (aam dev).
package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/buildinfo"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Role is the broker's role name (logs, application_name, NATS name).
const Role = "credential-broker"

// Config is the broker's configuration as a process of its own, from the
// environment: the shared blocks and the broker's Settings.
type Config struct {
	config.Log
	config.HTTP
	config.Postgres
	config.NATS
	Settings
}

// Settings are the broker's own settings; a process that has PostgreSQL
// and NATS already (aam dev) passes them to Start.
type Settings struct {
	// SecretKey is the key credentials are sealed with (AAM_SECRET_KEY,
	// required): 32 random bytes as base64 or 64 hex characters, e.g.
	// `openssl rand -base64 32`. Changing it makes the stored credentials
	// unreadable until they are rotated under the new key.
	SecretKey config.Secret `env:"AAM_SECRET_KEY,required,notEmpty"`
	// Salesforce is the optional SALESFORCE_* credential imported (created,
	// or rotated when it changed) at every start.
	Salesforce credentials.SalesforceEnv
	// RequestTimeout bounds the registry work of one request
	// (CREDENTIALS_REQUEST_TIMEOUT, default 10s).
	RequestTimeout time.Duration `env:"CREDENTIALS_REQUEST_TIMEOUT" envDefault:"10s"`
}

// Validate checks AAM_SECRET_KEY without printing it.
func (c Settings) Validate() error {
	var errs []error
	if _, err := credentials.ParseKey(c.SecretKey.Value()); err != nil {
		errs = append(errs, err)
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CREDENTIALS_REQUEST_TIMEOUT: %s is not positive", c.RequestTimeout))
	}
	return errors.Join(errs...)
}

// Key returns the parsed AAM_SECRET_KEY.
func (c Settings) Key() (credentials.Key, error) { return credentials.ParseKey(c.SecretKey.Value()) }

// Options are the Start options that apply s: its SALESFORCE_* credential
// and its request timeout.
func (c Settings) Options() []Option {
	return []Option{WithSalesforce(c.Salesforce), WithRequestTimeout(c.RequestTimeout)}
}

// Run connects to PostgreSQL and NATS, imports the SALESFORCE_* credential,
// serves the credential service and the health endpoints until ctx ends,
// then stops the service, drains the NATS connection (in-flight requests
// are answered) and closes the pool.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	key, err := cfg.Key()
	if err != nil {
		return err
	}
	pool, err := app.OpenPostgres(ctx, cfg.Postgres, Role)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := registry.NewStore(pool)
	nc, _, err := app.ConnectNATS(ctx, cfg.NATS, "aam-"+Role, log)
	if err != nil {
		return err
	}
	defer drain(nc, log)

	metrics := observability.NewRegistry()
	health := observability.NewHandler(metrics, observability.Check{Name: "postgres", Fn: store.Ping}, app.NATSCheck(nc))
	stop, err := Start(ctx, store, nc, key, log, append(cfg.Options(), WithMetrics(metrics))...)
	if err != nil {
		return err
	}
	defer stop()
	return app.Run(ctx, func(ctx context.Context) error {
		mux := http.NewServeMux()
		health.Register(mux)
		return observability.Serve(ctx, cfg.HTTP.Addr, mux, log)
	})
}

// drain drains nc, waiting (at most 10 s) for pending replies to go out.
func drain(nc *nats.Conn, log *zap.Logger) {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		log.Warn("nats drain did not finish in time")
		nc.Close()
	}
}

// Option configures Start.
type Option func(*options)

type options struct {
	salesforce credentials.SalesforceEnv
	metrics    prometheus.Registerer
	timeout    time.Duration
}

// WithSalesforce imports the SALESFORCE_* credential before serving (a
// no-op when none of its variables is set).
func WithSalesforce(e credentials.SalesforceEnv) Option { return func(o *options) { o.salesforce = e } }

// WithMetrics registers the service's request metrics on reg.
func WithMetrics(reg prometheus.Registerer) Option { return func(o *options) { o.metrics = reg } }

// WithRequestTimeout bounds the registry work of one request (default 10 s).
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Start runs the credential service on dependencies the caller owns (the
// single-process aam dev passes its registry store and NATS connection):
// it imports the SALESFORCE_* credential when WithSalesforce names one,
// then adds the micro service aam-credentials on nc. The service stops when
// stop is called or ctx ends, whichever comes first; stop may be called
// more than once. The caller drains nc and closes the store afterwards.
func Start(ctx context.Context, store *registry.Store, nc *nats.Conn, key credentials.Key, log *zap.Logger, opts ...Option) (stop func(), err error) {
	if key.IsZero() {
		return nil, errors.New("credential broker: no AAM_SECRET_KEY")
	}
	o := options{timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	log = log.Named("credentials")
	cs := credentials.NewStore(store, key)
	if o.salesforce.Set() {
		md, outcome, err := credentials.ImportSalesforce(ctx, cs, o.salesforce)
		if err != nil {
			return nil, err
		}
		log.Info("salesforce credential imported from the environment", zap.String("credential_id", md.ID),
			zap.String("outcome", string(outcome)), zap.Int("version", md.Version), zap.String("key_id", md.KeyID))
	}
	svcOpts := []credentials.ServiceOption{credentials.WithRequestTimeout(o.timeout)}
	if o.metrics != nil {
		svcOpts = append(svcOpts, credentials.WithMetrics(o.metrics))
	}
	svc, err := credentials.NewService(nc, cs, log, buildinfo.Version, svcOpts...)
	if err != nil {
		return nil, err
	}
	stop = sync.OnceFunc(func() {
		if err := svc.Stop(); err != nil {
			log.Warn("credential service stop", zap.Error(err))
			return
		}
		log.Info("credential service stopped")
	})
	context.AfterFunc(ctx, stop)
	return stop, nil
}
