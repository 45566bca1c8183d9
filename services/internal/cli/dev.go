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
	"runtime"
	"runtime/debug"
	"strconv"
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
	"github.com/aam-mesh/aam/services/internal/broker"
	"github.com/aam-mesh/aam/services/internal/emulatorrole"
	"github.com/aam-mesh/aam/services/internal/observer"
	"github.com/aam-mesh/aam/services/internal/role"
)

// devConfig is what `aam dev` itself reads from the environment; each
// role's settings are read by role.ParseSettings. AIRBYTE_API_URL switches
// from the emulator to a real Airbyte.
type devConfig struct {
	config.Log
	config.Postgres
	observability.Tracing
	Airbyte airbyte.Config
}

// devObserverInterval is aam dev's interval between the schema observer's
// rounds: short enough to see a drift made in the emulator within a demo.
const devObserverInterval = 30 * time.Second

// devPoolSize is aam dev's default database pool for procs processors.
// Every role shares the one pool, and the local PostgreSQL runs on the
// same processors: more backends than a few per processor only contend
// for the same buffers and WAL, and the processors then spend on it what
// the requests needed. On two processors 8 connections answer a quarter
// more requests than 40, and 4 starve the roles.
func devPoolSize(procs int) int { return min(max(8, 4*procs), 40) }

// devDefaults are aam dev's defaults where they differ from a role
// binary's. A variable the environment sets (not empty) wins.
func devDefaults(emulated bool) map[string]string {
	d := map[string]string{
		"LOG_FORMAT": "console",
		// The local database `make run` prepares; runDev puts the data
		// folder's own schema in front of it unless DATABASE_URL is set.
		"DATABASE_URL":       devLocalDatabase,
		"DATABASE_MAX_CONNS": strconv.Itoa(devPoolSize(runtime.GOMAXPROCS(0))),
		"OBSERVER_INTERVAL":  devObserverInterval.String(),
	}
	if emulated {
		d["AIRBYTE_WORKSPACE_ID"] = emulator.DefaultWorkspaceID
		d["AIRBYTE_DESTINATION_ID"] = emulator.DefaultDestinationID
	}
	return d
}

type devFlags struct {
	dataDir         string
	natsAddr        string
	gatewayAddr     string
	emulatorAddr    string
	httpAddr        string
	emulatorJobs    string
	emulatorLatency time.Duration
	observerEvery   time.Duration
	pprof           bool
	syncAlways      bool
	reset           bool
	stopWithParent  bool
}

func devCommand(root *cobra.Command) {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole mesh in one process: NATS, workers, broker, observer, gateway and an Airbyte emulator",
		Long: `aam dev runs every AAM role in one process for local work:

  - an embedded NATS server with JetStream (files under --data-dir; written through to the
    operating system on every acknowledgement, so a killed process loses nothing it
    accepted; --nats-sync-always also fsyncs each write, for power loss),
  - the registry migrations on DATABASE_URL or, when it is not set, on a schema of the data
    folder's own in the local PostgreSQL database aam (AAM_DEV_DATABASE names another),
    created on first start, so that two data folders never share a registry,
  - the Airbyte API emulator on --emulator-addr, unless AIRBYTE_API_URL points at a real Airbyte,
    its state (sources, connections, catalogs, jobs) kept under --data-dir/airbyte
    (EMULATOR_DATA_DIR to put it elsewhere),
  - the credential broker, the onboarding, sync and repair workers, the outbox relay,
  - the schema observer, checking every ACTIVE connection for drift every
    --observer-interval (30s unless OBSERVER_INTERVAL says otherwise),
  - the HTTP gateway on --gateway-addr.

These are the roles each of which also has a binary of its own (aam-onboarding, ...),
built from the same description and configured by the same variables (ONBOARDING_*,
SYNC_*, REPAIR_*, OBSERVER_*, GATEWAY_*, CREDENTIALS_*, EMULATOR_*); the flags win
over them.

A killed and restarted aam dev carries on with what was accepted: requests live in
JetStream under --data-dir, the registry in PostgreSQL and the emulated Airbyte's
state under --data-dir/airbyte (a job running at the stop is reported by the outcome
it would have had). The data folder is locked while the stack runs: a second aam dev
on it refuses at once. aam dev --reset empties the stack (its registry schema and the
folder); make clean runs it.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", ".aam-data", "folder for JetStream files, the emulator's state and the development secret key")
	fl.StringVar(&f.natsAddr, "nats-addr", "127.0.0.1:4222", "NATS client listener")
	fl.StringVar(&f.gatewayAddr, "gateway-addr", "127.0.0.1:8080", "HTTP gateway listener")
	fl.StringVar(&f.emulatorAddr, "emulator-addr", "127.0.0.1:8000", "Airbyte emulator listener (unused when AIRBYTE_API_URL is set)")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:9090", "health and metrics of the dev process (/healthz, /readyz, /metrics)")
	fl.StringVar(&f.emulatorJobs, "emulator-jobs", "realistic", "emulator job timing: realistic (seconds) or instant")
	fl.DurationVar(&f.emulatorLatency, "emulator-latency", 0, "latency the emulator adds to every Airbyte call")
	fl.DurationVar(&f.observerEvery, "observer-interval", devObserverInterval, "interval between the schema observer's rounds over every ACTIVE connection (when not given: OBSERVER_INTERVAL, else this default)")
	fl.BoolVar(&f.pprof, "pprof", false, "also serve Go profiles under /debug/pprof/ on --http-addr")
	fl.BoolVar(&f.syncAlways, "nats-sync-always", false, "fsync every JetStream write before acknowledging it (survives power loss; slower)")
	fl.BoolVar(&f.reset, "reset", false, "empty the stack of --data-dir (its registry schema and the folder) and exit; the stack must be stopped")
	fl.BoolVar(&f.stopWithParent, "stop-with-parent", false, "stop when the process that started aam dev exits (make run sets it)")
	root.AddCommand(cmd)
}

func runDev(ctx context.Context, cmd *cobra.Command, f devFlags) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// The whole mesh in one process, an Airbyte emulator included, is
		// meant to stay small: collect garbage harder as the heap nears
		// this soft limit (GOMEMLIMIT overrides it).
		debug.SetMemoryLimit(devMemoryLimit)
	}
	environ := processEnv()
	ownSchema := environ["DATABASE_URL"] == ""
	base := cmp.Or(environ["AAM_DEV_DATABASE"], devLocalDatabase)
	if f.reset {
		if err := resetDevStack(ctx, f.dataDir, ownSchema, base); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "emptied the stack of %s\n", f.dataDir)
		return nil
	}
	stack, err := openDevStack(f.dataDir)
	if err != nil {
		return err
	}
	defer stack.Close()
	if f.stopWithParent {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		go watchParent(ctx, stop)
	}
	registryAt := "DATABASE_URL"
	if ownSchema {
		// A registry of the data folder's own: a schema in the local
		// database, created on first start.
		if err := ensureSchema(ctx, base, stack.Schema()); err != nil {
			return err
		}
		if environ["DATABASE_URL"], err = withSearchPath(base, stack.Schema()); err != nil {
			return err
		}
		registryAt = "schema " + stack.Schema() + " (its own: aam dev --reset empties it)"
	}
	cfg, settings, err := devSettings(environ, f, cmd.Flags().Changed)
	if err != nil {
		return err
	}
	emulated := cfg.Airbyte.BaseURL == ""

	log, err := observability.NewLogger(cfg.Log, "dev")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

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
	common := app.Common{Log: cfg.Log, Postgres: cfg.Postgres, Tracing: cfg.Tracing,
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
	shared := &role.Shared{Deps: deps, Settings: settings}
	// Registered stops (the credential service) run once every role has
	// stopped, before the connections close.
	defer shared.Stop()

	// Airbyte: the emulator unless AIRBYTE_API_URL is set.
	ab := cfg.Airbyte
	if emulated {
		emu, ln, err := emulatorrole.New(settings.Emulator, log.Named("emulator"))
		if err != nil {
			return fmt.Errorf("--emulator-addr: %w", err)
		}
		defer func() { _ = ln.Close() }()
		if f.emulatorLatency > 0 {
			emu.SetFaults(emulator.Faults{Latency: f.emulatorLatency})
		}
		shared.Emulator, shared.EmulatorListener = emu, ln
		ab.BaseURL = "http://" + ln.Addr().String() + "/api/public/v1"
		ab.ConfigAPIURL = ""
		ab.ClientID = emu.Config().ClientID
		ab.ClientSecret = airbyte.NewSecret(emu.Config().ClientSecret)
		if ab.RateLimit == 0 {
			ab.RateLimit = -1 // the emulator has no limit to respect
		}
		if err := devDemoCredential(ctx, deps, settings.Broker); err != nil {
			return err
		}
	}
	if shared.Airbyte, err = deps.Airbyte(ab); err != nil {
		return err
	}

	// Every role, each as its own binary would run it.
	runners := []app.Runner{deps.Relay(), devHTTP(deps, f)}
	var started []string
	for _, r := range role.All() {
		run, err := r.Dev(ctx, shared)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		if run == nil {
			continue
		}
		runners = append(runners, run)
		started = append(started, r.Name)
	}
	deps.Health.AddCheck(observability.Check{Name: "jetstream", Fn: func(context.Context) error {
		if !ns.JetStreamEnabled() {
			return errors.New("jetstream disabled")
		}
		return nil
	}})

	printDevSummary(cmd, f, settings, ns, ab.BaseURL, registryAt, started)
	err = app.Run(ctx, runners...)
	log.Info("aam dev stopped")
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// devSettings returns aam dev's own configuration and every role's
// settings: parsed from environ with aam dev's defaults under it (the
// secret key kept in --data-dir among them), then what the flags set.
// given says whether a flag was on the command line.
func devSettings(environ map[string]string, f devFlags, given func(flag string) bool) (devConfig, role.Settings, error) {
	if f.emulatorJobs != "realistic" && f.emulatorJobs != "instant" {
		return devConfig{}, role.Settings{}, fmt.Errorf("--emulator-jobs %q: want realistic or instant", f.emulatorJobs)
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return devConfig{}, role.Settings{}, fmt.Errorf("--data-dir: %w", err)
	}
	defaults := devDefaults(environ["AIRBYTE_API_URL"] == "")
	if environ["AAM_SECRET_KEY"] == "" {
		key, err := devSecretKey(f.dataDir)
		if err != nil {
			return devConfig{}, role.Settings{}, err
		}
		defaults["AAM_SECRET_KEY"] = key
	}
	environ = withDefaults(environ, defaults)
	cfg, err := config.ParseFrom[devConfig](environ)
	if err != nil {
		return devConfig{}, role.Settings{}, err
	}
	s, err := role.ParseSettings(environ)
	if err != nil {
		return devConfig{}, role.Settings{}, err
	}
	s.Gateway.Addr = f.gatewayAddr
	s.Emulator.Addr, s.Emulator.Jobs = f.emulatorAddr, f.emulatorJobs
	if s.Emulator.DataDir == "" {
		// The emulated Airbyte keeps its state next to JetStream's, so that a
		// restart finds the connections the registry knows.
		s.Emulator.DataDir = filepath.Join(f.dataDir, "airbyte")
	}
	if given("observer-interval") {
		s.Observer.Interval = f.observerEvery
	}
	return cfg, s, nil
}

// devMemoryLimit is aam dev's soft Go memory limit.
const devMemoryLimit = 96 << 20

// devSecretKey returns the development secret key kept in the data folder
// (created on first start), so that credentials survive restarts;
// AAM_SECRET_KEY, when set, is used instead.
func devSecretKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, gerr := credentials.GenerateKey()
		if gerr != nil {
			return "", gerr
		}
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		return k, nil
	} else if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// devDemoCredential registers, against the emulator and unless
// SALESFORCE_* names a credential (the broker imports that one), a
// demonstration Salesforce credential under the id the seed's examples use
// (salesforce-prod), so they work unchanged.
func devDemoCredential(ctx context.Context, deps *app.Deps, s broker.Settings) error {
	if s.Salesforce.Set() {
		return nil
	}
	key, err := s.Key()
	if err != nil {
		return err
	}
	demo := credentials.Salesforce{
		ClientID:     "demo-connected-app",
		ClientSecret: credentials.Secret("demo-client-secret"),
		RefreshToken: credentials.Secret("demo-refresh-token"),
		StartDate:    "2024-01-01T00:00:00Z",
	}.Credential(credentials.DefaultSalesforceCredentialID)
	// Apply re-seals it when an earlier run's data folder (and key) is gone.
	_, _, err = credentials.NewStore(deps.Store, key).Apply(ctx, demo)
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

func printDevSummary(cmd *cobra.Command, f devFlags, s role.Settings, ns *server.Server, airbyteURL, registryAt string, roles []string) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, `
AAM %s is up
  gateway      http://%s   (seed routes and /v1, /healthz, /openapi.yaml)
  nats         %s   (streams %s, %s, %s)
  airbyte      %s
  workspace    %s
  destination  %s
  observer     every %s (heal %s)
  metrics      http://%s/metrics
  data         %s
  registry     %s
  roles        %s
Try:
  curl -X POST http://%s/connections/onboard -H 'Content-Type: application/json' \
    -d '{"source_type":"Salesforce","connection_name":"Salesforce Production","credential_id":"salesforce-prod"}'
Ctrl-C stops everything.

`, buildinfo.Version, s.Gateway.Addr, ns.ClientURL(), bus.StreamRequests, bus.StreamEvents, bus.StreamDLQ,
		airbyteURL, s.Onboarding.WorkspaceID, s.Onboarding.DestinationID, s.Observer.Interval, cmp.Or(s.Observer.Heal, observer.HealOff),
		f.httpAddr, f.dataDir, registryAt, strings.Join(roles, ", "), s.Gateway.Addr)
}

// processEnv returns the process environment as a map.
func processEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// withDefaults returns environ with defaults under it: a default applies
// where environ has no value, or an empty one.
func withDefaults(environ, defaults map[string]string) map[string]string {
	m := make(map[string]string, len(environ)+len(defaults))
	for k, v := range defaults {
		m[k] = v
	}
	for k, v := range environ {
		if v != "" || m[k] == "" {
			m[k] = v
		}
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
