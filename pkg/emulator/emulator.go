package emulator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Default identities. They are fixed so that `aam dev` and the README can print them.
const (
	DefaultClientID      = "aam-local"
	DefaultClientSecret  = "aam-local-secret"
	DefaultWorkspaceID   = "744cc0ed-7f05-4949-9e60-2a814f90c035"
	DefaultDestinationID = "e478de0d-a3a0-475c-b019-25f7dd29e281"
	DefaultTokenTTL      = 900 * time.Second
	DefaultMaxAttempts   = 3
	// DefaultDiscoverWindow is Airbyte OSS's DISCOVER_REFRESH_WINDOW_MINUTES (24 h):
	// the pre-sync discover runs at most once per window per source.
	DefaultDiscoverWindow = 24 * time.Hour
	// DefaultJobRetention is how many terminal jobs per connection the job history
	// keeps by default.
	DefaultJobRetention = 100
)

// Config configures an [Emulator]. The zero value is usable: credentials and ids
// take the defaults above and every job duration is zero (a job is created pending
// and is terminal the first time it is read). [DefaultConfig] returns durations that
// look like a real, if quick, Airbyte.
type Config struct {
	// ClientID and ClientSecret are the only credentials POST /applications/token
	// accepts. Defaults: DefaultClientID, DefaultClientSecret.
	ClientID     string
	ClientSecret string
	// TokenTTL is the expires_in of issued tokens. Default 900 s (Airbyte's 15 min).
	TokenTTL time.Duration
	// TokenLifetime, when positive and shorter than TokenTTL, is how long a token is
	// really accepted (and its JWT exp), while expires_in still says TokenTTL. It
	// reproduces airbyte-api-python-sdk#118 (expires_in 900 vs exp +180 s).
	TokenLifetime time.Duration
	// CloudAuthErrors makes bad token credentials answer like Airbyte Cloud
	// (401 {"errorId"}) instead of OSS simple auth (400 {"message":"Invalid client id or token"}).
	CloudAuthErrors bool

	// WorkspaceID and DestinationID identify the pre-seeded workspace and Postgres
	// destination. Defaults: DefaultWorkspaceID, DefaultDestinationID.
	WorkspaceID   string
	DestinationID string

	// Seed makes generated ids (UUIDs) and fault decisions reproducible. Zero picks
	// a random seed.
	Seed uint64
	// Clock drives every timestamp and job transition. Default: the wall clock.
	Clock Clock

	// JobPending is how long a job stays pending before its first attempt runs.
	JobPending time.Duration
	// JobQueued, when positive, puts a job in Airbyte's newer `queued` state for
	// that long after JobPending (HEAD behaviour; v1.8.0 has no queued).
	JobQueued time.Duration
	// JobRunning is how long each attempt runs.
	JobRunning time.Duration
	// JobRetryDelay is how long a job stays incomplete between a failed attempt and
	// the next one.
	JobRetryDelay time.Duration
	// MaxSyncWorkers is how many jobs run at once (Airbyte's MAX_SYNC_WORKERS,
	// 10 by default there): a job whose attempt is due while every worker is busy
	// stays pending (queued with JobQueued, incomplete between attempts) until
	// one frees, first come first served. Zero or negative: no limit.
	MaxSyncWorkers int
	// PublicAPIThreads bounds how many public API requests are served at once
	// (Airbyte's PUBLIC_API_EXECUTOR_THREADS, 5 by default there; the token
	// endpoint included); ConfigAPIThreads does the same for the Configuration
	// API (IO_TASK_EXECUTOR_THREADS, 100). Requests beyond a pool wait in
	// arrival order; a slow one (an uncached discover, a connection create that
	// discovers) holds its thread while it sleeps. Zero or negative: no bound.
	PublicAPIThreads int
	ConfigAPIThreads int
	// QueueLimit, when positive, makes a pool answer 429 at once to a request
	// that finds QueueLimit requests already waiting for it (an overloaded
	// gateway), instead of queueing it.
	QueueLimit int
	// CallTime, when positive, is how long every API call holds its pool's
	// thread before it is handled, as the work a real server does for each
	// call (Airbyte answers a public API call in tens to hundreds of
	// milliseconds): with it a pool fills when calls come faster than its
	// threads serve them. Zero: calls take no time beyond their handling.
	CallTime time.Duration
	// MaxAttempts per job before it fails (Airbyte's SYNC_JOB_MAX_ATTEMPTS). Default 3.
	MaxAttempts int
	// DiscoverLatency is how long an uncached discover takes (config
	// discover_schema with disable_cache, GET /streams?ignoreCache=true, first
	// discover of a source). Served without holding any lock.
	DiscoverLatency time.Duration
	// DiscoverWindow buckets the automatic pre-sync discover: at most one per source
	// and window. Default DefaultDiscoverWindow; negative means every attempt.
	DiscoverWindow time.Duration
	// JobRetention bounds the job history: every non-terminal job is kept, and the
	// newest JobRetention terminal jobs of each connection; older ones are
	// forgotten and answer as unknown job ids. Airbyte keeps its job history in its
	// database; the emulator keeps this window. Zero means DefaultJobRetention,
	// negative keeps every job.
	JobRetention int
	// CancelTerminalConflict makes DELETE /jobs/{id} (and config jobs/cancel) on a
	// job that is no longer running answer 409 "Job is not currently running"
	// instead of 200 with the unchanged job.
	CancelTerminalConflict bool

	// DataDir, when set, is the folder the emulator keeps its state in (see
	// Open): sources, connections, catalogs, upstream schemas, jobs and the id
	// generator survive a restart on the same folder. Tokens and faults do not.
	DataDir string

	// APIHost is the base of pagination links, as Airbyte's AIRBYTE_API_HOST (links
	// are APIHost + "/v1/<resource>?..."). Default: "http://<request Host>/api/public".
	APIHost string

	// Logger receives one line per request at debug level and admin actions at
	// info level. Default: no logging.
	Logger *zap.Logger
}

// Airbyte OSS's default capacity (see [Config.MaxSyncWorkers] and
// [Config.PublicAPIThreads]).
const (
	DefaultMaxSyncWorkers   = 10
	DefaultPublicAPIThreads = 5
	DefaultConfigAPIThreads = 100
)

// DefaultConfig returns a realistic Config: demo-friendly job durations (1 s
// pending, 3 s per attempt, 1 s between attempts, 2 s for an uncached discover)
// and Airbyte's default capacity (5 public API threads, 100 Configuration API
// threads, 10 sync workers).
func DefaultConfig() Config {
	return Config{
		JobPending:       time.Second,
		JobRunning:       3 * time.Second,
		JobRetryDelay:    time.Second,
		DiscoverLatency:  2 * time.Second,
		MaxSyncWorkers:   DefaultMaxSyncWorkers,
		PublicAPIThreads: DefaultPublicAPIThreads,
		ConfigAPIThreads: DefaultConfigAPIThreads,
	}
}

func (c Config) withDefaults() Config {
	c.ClientID = cmp.Or(c.ClientID, DefaultClientID)
	c.ClientSecret = cmp.Or(c.ClientSecret, DefaultClientSecret)
	c.TokenTTL = cmp.Or(c.TokenTTL, DefaultTokenTTL)
	c.WorkspaceID = cmp.Or(c.WorkspaceID, DefaultWorkspaceID)
	c.DestinationID = cmp.Or(c.DestinationID, DefaultDestinationID)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.DiscoverWindow = cmp.Or(c.DiscoverWindow, DefaultDiscoverWindow)
	c.JobRetention = cmp.Or(c.JobRetention, DefaultJobRetention)
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	return c
}

// Emulator is an in-memory, stateful stand-in for an Airbyte OSS server: the
// public API under /api/public/v1, the Configuration API under /api/v1, and test
// controls under /_emulator. It is safe for concurrent use.
type Emulator struct {
	cfg      Config
	clock    Clock
	log      *zap.Logger
	auth     *authState
	faults   *faultState
	capacity *capacity

	// closing is closed by Close; hanging (timeout-fault) handlers return then.
	closing   chan struct{}
	closeOnce sync.Once

	// mu guards everything below. It is never held while sleeping.
	mu       sync.Mutex
	idSource *mrand.ChaCha8
	ids      *mrand.Rand
	st       *state
	// store is the data folder (Config.DataDir), nil when the state is memory only.
	store *store
}

// New returns an Emulator seeded with one workspace, one Postgres destination and
// the Salesforce source definition, its state in memory. With Config.DataDir it
// is Open, and panics if the folder cannot be read: use Open there.
func New(cfg Config) *Emulator {
	if cfg.DataDir != "" {
		e, err := Open(cfg)
		if err != nil {
			panic(err)
		}
		return e
	}
	return newEmulator(cfg)
}

func newEmulator(cfg Config) *Emulator {
	cfg = cfg.withDefaults()
	e := &Emulator{
		cfg:     cfg,
		clock:   cfg.Clock,
		log:     cfg.Logger.Named("airbyte_emulator"),
		closing: make(chan struct{}),
	}
	e.auth = newAuthState(cfg, e.clock)
	e.faults = newFaultState(cfg.Seed)
	e.capacity = newCapacity(cfg)
	e.idSource = mrand.NewChaCha8(seedBytes(cfg.Seed))
	e.ids = mrand.New(e.idSource)
	e.st = newState(e)
	return e
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := 0; i < 4; i++ {
		binary.LittleEndian.PutUint64(b[i*8:], seed+uint64(i)*0x9E3779B97F4A7C15)
	}
	return b
}

// newID returns a UUID (version 4 layout) from the seeded source. Callers hold e.mu.
func (e *Emulator) newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], e.ids.Uint64())
	binary.LittleEndian.PutUint64(b[8:], e.ids.Uint64())
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Config returns the effective configuration (defaults applied).
func (e *Emulator) Config() Config { return e.cfg }

// WorkspaceID returns the pre-seeded workspace id.
func (e *Emulator) WorkspaceID() string { return e.cfg.WorkspaceID }

// DestinationID returns the pre-seeded destination id.
func (e *Emulator) DestinationID() string { return e.cfg.DestinationID }

// Close releases requests held by the timeout fault. The emulator keeps its state
// and can still serve.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { close(e.closing) })
}

// Stop writes a snapshot of the state to the data folder (Config.DataDir) and
// closes it; a change after Stop fails. Without a data folder it does nothing.
func (e *Emulator) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closeStoreLocked()
}

// ListenAndServe serves the emulator on addr until ctx is cancelled, then shuts
// down gracefully (waiting up to 5 s for in-flight requests) and Stops.
func (e *Emulator) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	return e.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener.
func (e *Emulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	e.log.Info("airbyte emulator listening", zap.String("addr", ln.Addr().String()),
		zap.String("workspace_id", e.cfg.WorkspaceID), zap.String("destination_id", e.cfg.DestinationID))
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: serve: %w", err)
	case <-ctx.Done():
	}
	e.Close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = e.Stop()
		return fmt.Errorf("emulator: shutdown: %w", err)
	}
	if err := e.Stop(); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("emulator: serve: %w", err)
	}
	e.log.Info("airbyte emulator stopped")
	return nil
}
