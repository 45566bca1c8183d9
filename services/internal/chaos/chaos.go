// Package chaos beats AAM with many faults at once, on real processes, and
// checks the outcome from the outside. A run starts a PostgreSQL cluster,
// a NATS server, the Airbyte emulator and every role (two instances of
// each worker) as processes of their own in a fresh folder; an
// independent publisher sends a seeded mix of good and bad requests while
// a seeded fault schedule kills role processes, kills and restarts the
// NATS server on its store, restarts PostgreSQL immediately and makes the
// emulator fail; then a checker that reads only AAM_EVENTS, AAM_DLQ, the
// emulator's /_emulator/state and the registry counts what each request
// got, and scans everything the run wrote for the credentials it used.
package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets what a run does.
type Config struct {
	// Binary is the aam executable: every process of the run is one of
	// its commands.
	Binary string
	// Seed makes the request mix and the fault schedule (0: a random one,
	// printed).
	Seed uint64
	// Requests is how many requests the publisher sends, bad ones
	// included (BadShare of them).
	Requests int
	BadShare float64
	// Duration is how long the publishing and the faults are spread over.
	Duration time.Duration
	// Kills, NATSRestarts, PostgresRestarts and EmulatorFaults are the
	// faults of the schedule.
	Kills            int
	NATSRestarts     int
	PostgresRestarts int
	EmulatorFaults   int
	// Settle bounds the wait for quiescence after the last fault.
	Settle time.Duration
	// EmulatorJobs is the emulator's job timing (instant or realistic).
	EmulatorJobs string
	// Dir is the run folder (logs, stores); a temporary one when empty,
	// removed at the end unless Keep is set or the run failed.
	Dir  string
	Keep bool
	// Out receives progress and the report.
	Out io.Writer
}

// Defaults are `aam chaos`'s defaults.
func Defaults() Config {
	return Config{Requests: 10000, BadShare: 0.1, Duration: 8 * time.Minute, Kills: 100, NATSRestarts: 5,
		PostgresRestarts: 3, EmulatorFaults: 20, Settle: 3 * time.Minute, EmulatorJobs: "instant"}
}

// Short is the configuration `make test` runs.
func Short() Config {
	return Config{Requests: 500, BadShare: 0.1, Duration: 30 * time.Second, Kills: 10, NATSRestarts: 1,
		PostgresRestarts: 1, EmulatorFaults: 3, Settle: 90 * time.Second, EmulatorJobs: "instant"}
}

// credentialsOfRun are the secrets a run gives its processes: random, so
// that the checker can look for their plaintext anywhere.
type credentialsOfRun struct {
	secretKey, airbyteSecret, sfSecret, sfToken string
}

func (c credentialsOfRun) list() []string {
	return []string{c.secretKey, c.airbyteSecret, c.sfSecret, c.sfToken}
}

func newCredentials() credentialsOfRun {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tok := func(prefix string) string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return prefix + hex.EncodeToString(b)
	}
	return credentialsOfRun{secretKey: base64.StdEncoding.EncodeToString(key), airbyteSecret: tok("abs-"),
		sfSecret: tok("sfs-"), sfToken: tok("sft-")}
}

// Run runs the chaos configuration cfg and returns the checker's report;
// the report's Broken lists the invariants that did not hold. An error is
// a run that could not be carried out.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Uint64() >> 1
	}
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "aam-chaos-"); err != nil {
			return nil, err
		}
	}
	defer func() {
		if !cfg.Keep && err == nil && rep != nil && len(rep.Broken) == 0 {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Fprintf(out, "run folder kept: %s (logs under logs/)\n", dir)
		}
	}()

	sched := schedule(cfg)
	fmt.Fprintf(out, "chaos seed %d: %d requests (%.0f%% bad) over %s; faults: %d kills, %d NATS restarts, %d PostgreSQL restarts, %d emulator faults\n",
		cfg.Seed, cfg.Requests, cfg.BadShare*100, cfg.Duration, cfg.Kills, cfg.NATSRestarts, cfg.PostgresRestarts, cfg.EmulatorFaults)
	fmt.Fprintf(out, "fault schedule (reproduce with --seed %d):\n", cfg.Seed)
	for _, f := range sched {
		fmt.Fprintf(out, "  %8s  %s\n", f.at.Round(10*time.Millisecond), f)
	}

	creds := newCredentials()
	fmt.Fprintf(out, "starting PostgreSQL, NATS, the emulator and %d role processes under %s\n", len(roleInstances()), dir)
	st, err := startStack(ctx, cfg, dir, creds)
	defer st.close()
	if err != nil {
		return nil, err
	}

	pub, err := newPublisher(st.natsURL, cfg.Seed)
	if err != nil {
		return nil, err
	}
	defer pub.close()

	start := time.Now()
	fr := &faultRunner{st: st, out: out, start: start, rng: mrand.New(mrand.NewPCG(cfg.Seed, 2)), done: map[string]int{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fr.run(ctx, sched) }()
	pub.run(ctx, cfg, start)
	wg.Wait()
	fmt.Fprintf(out, "sent %d requests in %s; waiting for quiescence (at most %s)\n", len(pub.sent), time.Since(start).Round(time.Second), cfg.Settle)
	if err := fr.restoreAll(ctx); err != nil {
		return nil, err
	}
	pub.awaitQuiet(ctx, cfg.Settle)

	outside, err := readOutside(ctx, st)
	if err != nil {
		return nil, err
	}
	rep = Check(pub.requests(), outside, creds.list(), fr.lastFault())
	rep.Seed = cfg.Seed
	rep.Faults = fr.done
	return rep, nil
}

// fault is one entry of the schedule.
type fault struct {
	at   time.Duration
	kind string // kill, nats, postgres, emulator
	// what: the role instance to kill, or the emulator fault.
	what string
	// down is how long the process stays down, or the emulator fault
	// lasts.
	down time.Duration
}

func (f fault) String() string {
	switch f.kind {
	case "kill":
		return fmt.Sprintf("kill -9 %s, restart after %s", f.what, f.down.Round(10*time.Millisecond))
	case "nats":
		return fmt.Sprintf("kill -9 nats-server, restart on its store after %s", f.down.Round(10*time.Millisecond))
	case "postgres":
		return "PostgreSQL restart -m immediate"
	default:
		return fmt.Sprintf("emulator %s for %s", f.what, f.down.Round(10*time.Millisecond))
	}
}

// emulatorFaults are the emulator faults a schedule picks from: the body
// of POST /_emulator/faults.
var emulatorFaults = map[string]string{
	"5xx burst":         `{"error_rate": 0.5, "status": 503}`,
	"429 burst":         `{"rate_limit_rate": 0.5}`,
	"latency 300ms":     `{"latency": 300}`,
	"timeouts":          `{"timeout_rate": 0.05}`,
	"failing jobs":      `{"fail_next_jobs": 5}`,
	"failing discovers": `{"fail_next_discovers": 3}`,
	"expired tokens":    "",
}

// schedule is cfg's fault schedule, from its seed: the faults at random
// times over the first 80% of the run, in time order.
func schedule(cfg Config) []fault {
	rng := mrand.New(mrand.NewPCG(cfg.Seed, 1))
	span := time.Duration(float64(cfg.Duration) * 0.8)
	at := func() time.Duration { return time.Duration(rng.Int64N(int64(span)+1)) + cfg.Duration/20 }
	roles := roleInstances()
	var out []fault
	for range cfg.Kills {
		out = append(out, fault{at: at(), kind: "kill", what: roles[rng.IntN(len(roles))].name,
			down: time.Duration(200+rng.IntN(1800)) * time.Millisecond})
	}
	for range cfg.NATSRestarts {
		out = append(out, fault{at: at(), kind: "nats", down: time.Duration(500+rng.IntN(2500)) * time.Millisecond})
	}
	for range cfg.PostgresRestarts {
		out = append(out, fault{at: at(), kind: "postgres"})
	}
	names := make([]string, 0, len(emulatorFaults))
	for n := range emulatorFaults {
		names = append(names, n)
	}
	sort.Strings(names)
	for range cfg.EmulatorFaults {
		out = append(out, fault{at: at(), kind: "emulator", what: names[rng.IntN(len(names))],
			down: time.Duration(1000+rng.IntN(4000)) * time.Millisecond})
	}
	slices.SortStableFunc(out, func(a, b fault) int { return int(a.at - b.at) })
	return out
}

// faultRunner carries out a schedule on a stack.
type faultRunner struct {
	st    *stack
	out   io.Writer
	start time.Time
	rng   *mrand.Rand

	mu   sync.Mutex
	done map[string]int
	// last is when the last fault ended (Unix nanoseconds).
	last atomic.Int64
	// wg counts the pending restarts and fault ends.
	wg sync.WaitGroup
}

func (fr *faultRunner) lastFault() time.Time {
	if n := fr.last.Load(); n > 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (fr *faultRunner) mark(kind string) {
	fr.mu.Lock()
	fr.done[kind]++
	fr.mu.Unlock()
	fr.touch()
}

// touch records now as the end of the last fault.
func (fr *faultRunner) touch() { fr.last.Store(time.Now().UnixNano()) }

func (fr *faultRunner) proc(name string) *proc {
	for _, p := range fr.st.roles {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (fr *faultRunner) run(ctx context.Context, sched []fault) {
	for _, f := range sched {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(fr.start.Add(f.at))):
		}
		switch f.kind {
		case "kill":
			p := fr.proc(f.what)
			p.mu.Lock()
			busy := p.cmd == nil
			p.mu.Unlock()
			if busy {
				continue
			}
			p.kill9()
			fr.mark("role kill -9")
			fr.restartLater(ctx, p, f.down)
		case "nats":
			fr.st.nats.kill9()
			fr.mark("nats kill -9")
			select {
			case <-ctx.Done():
			case <-time.After(f.down):
			}
			if err := fr.st.nats.start(); err != nil {
				fmt.Fprintf(fr.out, "restart nats-server: %v\n", err)
			}
			_ = waitNATS(ctx, fr.st.natsURL, 30*time.Second)
			fr.touch()
		case "postgres":
			if err := fr.st.pg.ctl(ctx, "restart"); err != nil {
				fmt.Fprintf(fr.out, "postgres restart: %v\n", err)
			}
			fr.mark("postgres restart")
		case "emulator":
			fr.emulator(ctx, f)
			fr.mark("emulator " + f.what)
		}
	}
}

// restartLater starts p again after down.
func (fr *faultRunner) restartLater(ctx context.Context, p *proc, down time.Duration) {
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
	fr.wg.Add(1)
	go func() {
		defer fr.wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(down):
		}
		if err := p.start(); err != nil {
			fmt.Fprintf(fr.out, "restart %s: %v\n", p.name, err)
		}
	}()
}

func (fr *faultRunner) emulator(ctx context.Context, f fault) {
	body := emulatorFaults[f.what]
	if body == "" {
		_ = emulatorPost(ctx, fr.st.emuURL+"/_emulator/tokens/expire", "")
		return
	}
	if err := emulatorPost(ctx, fr.st.emuURL+"/_emulator/faults", body); err != nil {
		fmt.Fprintf(fr.out, "emulator fault %s: %v\n", f.what, err)
		return
	}
	fr.wg.Add(1)
	go func() {
		defer fr.wg.Done()
		select {
		case <-ctx.Done():
		case <-time.After(f.down):
		}
		_ = emulatorDelete(context.WithoutCancel(ctx), fr.st.emuURL+"/_emulator/faults")
	}()
}

// restoreAll waits for the pending restarts and for every role to be ready.
func (fr *faultRunner) restoreAll(ctx context.Context) error {
	fr.wg.Wait()
	_ = emulatorDelete(ctx, fr.st.emuURL+"/_emulator/faults")
	for _, p := range fr.st.roles {
		if p.pid() == 0 {
			if err := p.start(); err != nil {
				return err
			}
		}
		if err := p.waitReady(ctx, 90*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// logFiles are the log files under dir/logs.
func logFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	return m
}

func trimLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
