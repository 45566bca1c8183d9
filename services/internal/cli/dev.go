package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/buildinfo"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/config"
	"github.com/aam-mesh/aam/pkg/credentials"
	"github.com/aam-mesh/aam/pkg/emulator"
	"github.com/aam-mesh/aam/pkg/natsembed"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/services/internal/app"
	"github.com/aam-mesh/aam/services/internal/emulatorrole"
)

func init() { register(devCommand) }

// devConfig is what `aam dev` reads from the environment. Everything has a
// local default; AIRBYTE_API_URL switches from the emulator to a real
// Airbyte.
type devConfig struct {
	config.Log
	// DatabaseURL defaults to the local server `make run` prepares.
	DatabaseURL      config.Secret `env:"DATABASE_URL" envDefault:"postgres://aam:aam@127.0.0.1:5432/aam?sslmode=disable"`
	DatabaseMaxConns int32         `env:"DATABASE_MAX_CONNS" envDefault:"40"`
	Airbyte          airbyte.Config
	WorkspaceID      string        `env:"AIRBYTE_WORKSPACE_ID"`
	DestinationID    string        `env:"AIRBYTE_DESTINATION_ID"`
	SecretKey        config.Secret `env:"AAM_SECRET_KEY"`
	GatewayTokens    config.Secret `env:"GATEWAY_TOKENS"`
	Salesforce       credentials.SalesforceEnv
}

type devFlags struct {
	dataDir         string
	natsAddr        string
	gatewayAddr     string
	emulatorAddr    string
	httpAddr        string
	emulatorJobs    string
	emulatorLatency time.Duration
	pprof           bool
	syncAlways      bool
}

func devCommand(root *cobra.Command) {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole mesh in one process: NATS, workers, broker, gateway and an Airbyte emulator",
		Long: `aam dev runs every AAM role in one process for local work:

  - an embedded NATS server with JetStream (files under --data-dir; written through to the
    operating system on every acknowledgement, so a killed process loses nothing it
    accepted; --nats-sync-always also fsyncs each write, for power loss),
  - the registry migrations on DATABASE_URL (a local PostgreSQL by default),
  - the Airbyte API emulator on --emulator-addr, unless AIRBYTE_API_URL points at a real Airbyte,
  - the credential broker, the onboarding, sync and repair workers, the outbox relay,
  - the HTTP gateway on --gateway-addr.

A killed and restarted aam dev carries on with what was accepted: requests live in
JetStream under --data-dir and the registry in PostgreSQL.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", ".aam-data", "folder for JetStream files and the development secret key")
	fl.StringVar(&f.natsAddr, "nats-addr", "127.0.0.1:4222", "NATS client listener")
	fl.StringVar(&f.gatewayAddr, "gateway-addr", "127.0.0.1:8080", "HTTP gateway listener")
	fl.StringVar(&f.emulatorAddr, "emulator-addr", "127.0.0.1:8000", "Airbyte emulator listener (unused when AIRBYTE_API_URL is set)")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:9090", "health and metrics of the dev process (/healthz, /readyz, /metrics)")
	fl.StringVar(&f.emulatorJobs, "emulator-jobs", "realistic", "emulator job timing: realistic (seconds) or instant")
	fl.DurationVar(&f.emulatorLatency, "emulator-latency", 0, "latency the emulator adds to every Airbyte call")
	fl.BoolVar(&f.pprof, "pprof", false, "also serve Go profiles under /debug/pprof/ on --http-addr")
	fl.BoolVar(&f.syncAlways, "nats-sync-always", false, "fsync every JetStream write before acknowledging it (survives power loss; slower)")
	root.AddCommand(cmd)
}

func runDev(ctx context.Context, cmd *cobra.Command, f devFlags) error {
	if os.Getenv("LOG_FORMAT") == "" {
		_ = os.Setenv("LOG_FORMAT", "console")
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The whole mesh in one process, an Airbyte emulator included, is
		// meant to stay small: collect garbage harder as the heap nears
		// this soft limit (GOMEMLIMIT overrides it).
		debug.SetMemoryLimit(devMemoryLimit)
	}
	cfg, err := config.Parse[devConfig]()
	if err != nil {
		return err
	}
	log, err := observability.NewLogger(cfg.Log, "dev")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}

	// NATS.
	host, port, err := splitHostPort(f.natsAddr)
	if err != nil {
		return fmt.Errorf("--nats-addr: %w", err)
	}
	ns, err := natsembed.Start(natsembed.Options{Name: "aam-dev", Host: host, Port: port,
		StoreDir: filepath.Join(f.dataDir, "jetstream"), SyncAlways: f.syncAlways, Logger: log})
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()

	// PostgreSQL and the registry.
	common := app.Common{Log: cfg.Log, Postgres: config.Postgres{URL: cfg.DatabaseURL, MaxConns: cfg.DatabaseMaxConns},
		NATS: config.NATS{URL: ns.ClientURL(), StreamReplicas: 1}}
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pool, err := app.OpenPostgres(openCtx, common.Postgres, "dev")
	if err != nil {
		return fmt.Errorf("%w (start one with `make run`, or set DATABASE_URL)", err)
	}
	version, err := app.Migrate(openCtx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	log.Info("registry migrated", zap.Int64("version", version))
	deps, err := app.Open(openCtx, "dev", common, log, app.OpenOptions{Provision: true})
	if err != nil {
		return err
	}
	defer deps.Close()

	var runners []app.Runner
	// Airbyte: the emulator unless AIRBYTE_API_URL is set.
	ab := cfg.Airbyte
	if _, real := os.LookupEnv("AIRBYTE_API_URL"); !real {
		emu, run, err := startEmulator(f, log)
		if err != nil {
			return err
		}
		runners = append(runners, run)
		ab.BaseURL = "http://" + f.emulatorAddr + "/api/public/v1"
		ab.ConfigAPIURL = ""
		ab.ClientID = emu.Config().ClientID
		ab.ClientSecret = airbyte.NewSecret(emu.Config().ClientSecret)
		if ab.RateLimit == 0 {
			ab.RateLimit = -1 // the emulator has no limit to respect
		}
		cfg.WorkspaceID = cmp.Or(cfg.WorkspaceID, emu.WorkspaceID())
		cfg.DestinationID = cmp.Or(cfg.DestinationID, emu.DestinationID())
	}
	if cfg.WorkspaceID == "" || cfg.DestinationID == "" {
		return errors.New("AIRBYTE_WORKSPACE_ID and AIRBYTE_DESTINATION_ID are required with AIRBYTE_API_URL")
	}
	abClient, err := deps.Airbyte(ab)
	if err != nil {
		return err
	}

	// Credential broker.
	key, err := devSecretKey(cfg.SecretKey, f.dataDir)
	if err != nil {
		return err
	}
	credStore := credentials.NewStore(deps.Store, key)
	if err := devCredentials(ctx, credStore, cfg, log); err != nil {
		return err
	}
	svc, err := credentials.NewService(deps.NC, credStore, log, buildinfo.Version, credentials.WithMetrics(deps.Metrics))
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop() }()

	parts := devParts{cfg: cfg, flags: f, deps: deps, airbyte: abClient, creds: credentials.NewClient(deps.NC, credentials.ClientOptions{})}
	more, err := parts.roles()
	if err != nil {
		return err
	}
	runners = append(runners, more...)
	runners = append(runners, deps.Relay(), devHTTP(deps, f))
	deps.Health.AddCheck(observability.Check{Name: "jetstream", Fn: func(context.Context) error {
		if !ns.JetStreamEnabled() {
			return errors.New("jetstream disabled")
		}
		return nil
	}})

	printDevSummary(cmd, f, cfg, ns, ab.BaseURL)
	err = app.Run(ctx, runners...)
	log.Info("aam dev stopped")
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// devMemoryLimit is aam dev's soft Go memory limit.
const devMemoryLimit = 96 << 20

func startEmulator(f devFlags, log *zap.Logger) (*emulator.Emulator, app.Runner, error) {
	ecfg, err := config.ParseFrom[emulatorrole.Config](mergeEnv(map[string]string{"EMULATOR_JOBS": f.emulatorJobs}))
	if err != nil {
		return nil, nil, fmt.Errorf("--emulator-jobs: %w", err)
	}
	emu := emulator.New(ecfg.Emulator(log.Named("emulator")))
	if f.emulatorLatency > 0 {
		emu.SetFaults(emulator.Faults{Latency: f.emulatorLatency})
	}
	ln, err := net.Listen("tcp", f.emulatorAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("--emulator-addr: %w", err)
	}
	return emu, func(ctx context.Context) error { return emu.Serve(ctx, ln) }, nil
}

// devSecretKey returns AAM_SECRET_KEY, or a key kept in the data folder
// (created on first start) so that credentials survive restarts.
func devSecretKey(s config.Secret, dataDir string) (credentials.Key, error) {
	if s != "" {
		return credentials.ParseKey(s.Value())
	}
	path := filepath.Join(dataDir, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, gerr := credentials.GenerateKey()
		if gerr != nil {
			return credentials.Key{}, gerr
		}
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return credentials.Key{}, fmt.Errorf("write %s: %w", path, err)
		}
		b = []byte(k)
	} else if err != nil {
		return credentials.Key{}, fmt.Errorf("read %s: %w", path, err)
	}
	return credentials.ParseKey(strings.TrimSpace(string(b)))
}

// devCredentials imports SALESFORCE_* when set; otherwise, against the
// emulator, it registers a demonstration Salesforce credential under the id
// the seed's examples use (salesforce-prod), so they work unchanged.
func devCredentials(ctx context.Context, store *credentials.Store, cfg devConfig, log *zap.Logger) error {
	if cfg.Salesforce.Set() {
		md, outcome, err := credentials.ImportSalesforce(ctx, store, cfg.Salesforce)
		if err != nil {
			return err
		}
		log.Info("salesforce credential imported", zap.String("credential_id", md.ID), zap.String("outcome", string(outcome)))
		return nil
	}
	if _, real := os.LookupEnv("AIRBYTE_API_URL"); real {
		return nil
	}
	demo := credentials.Salesforce{
		ClientID:     "demo-connected-app",
		ClientSecret: credentials.Secret("demo-client-secret"),
		RefreshToken: credentials.Secret("demo-refresh-token"),
		StartDate:    "2024-01-01T00:00:00Z",
	}.Credential(credentials.DefaultSalesforceCredentialID)
	// Apply re-seals it when an earlier run's data folder (and key) is gone.
	_, _, err := store.Apply(ctx, demo)
	return err
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	var port int
	if _, err := fmt.Sscan(p, &port); err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, port, nil
}

func printDevSummary(cmd *cobra.Command, f devFlags, cfg devConfig, ns *server.Server, airbyteURL string) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, `
AAM %s is up
  gateway      http://%s   (seed routes and /v1, /healthz, /openapi.yaml)
  nats         %s   (streams %s, %s, %s)
  airbyte      %s
  workspace    %s
  destination  %s
  metrics      http://%s/metrics
  data         %s
Try:
  curl -X POST http://%s/connections/onboard -H 'Content-Type: application/json' \
    -d '{"source_type":"Salesforce","connection_name":"Salesforce Production","credential_id":"salesforce-prod"}'
Ctrl-C stops everything.

`, buildinfo.Version, f.gatewayAddr, ns.ClientURL(), bus.StreamRequests, bus.StreamEvents, bus.StreamDLQ,
		airbyteURL, cfg.WorkspaceID, cfg.DestinationID, f.httpAddr, f.dataDir, f.gatewayAddr)
}

// devParts builds the roles of the single-process stack.
type devParts struct {
	cfg     devConfig
	flags   devFlags
	deps    *app.Deps
	airbyte *airbyte.Client
	creds   *credentials.Client
}

// mergeEnv returns the process environment with over applied on top.
func mergeEnv(over map[string]string) map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

// devHTTP serves health, metrics and, with --pprof, Go profiles.
func devHTTP(deps *app.Deps, f devFlags) app.Runner {
	return func(ctx context.Context) error {
		mux := http.NewServeMux()
		deps.Health.Register(mux)
		if f.pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		return observability.Serve(ctx, f.httpAddr, mux, deps.Log)
	}
}
