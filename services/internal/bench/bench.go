// Package bench is AAM's load benchmark: it starts `aam dev` as a separate
// process (so that its memory can be measured alone), drives requests
// through the whole pipeline (publish → worker → Airbyte emulator →
// registry → completion event) over NATS, and reports throughput,
// request→completion latency percentiles and the stack's peak RSS.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aam-mesh/aam/events"
)

// Config sets what the benchmark runs.
type Config struct {
	// Binary is the aam executable to start as `aam dev`.
	Binary string
	// DatabaseURL is given to aam dev (its registry).
	DatabaseURL string
	// Connections onboarded before the sync runs (syncs are spread over them).
	Connections int
	// SyncDuration is the length of each sync phase.
	SyncDuration time.Duration
	// SyncRate is the paced rate of the latency phase (requests/s).
	SyncRate int
	// Onboardings is the number of concurrent onboardings of the last phase,
	// with OnboardLatency added by the emulator to every Airbyte call.
	Onboardings    int
	OnboardLatency time.Duration
	// SeedClients concurrent HTTP clients call the gateway's seed route
	// POST /connections/{id}/sync over SeedConnections connections for
	// SyncDuration, each waiting for its answer (0: not run).
	SeedClients     int
	SeedConnections int
	// Replica is the prototype-style replica the seed route is compared
	// with: ReplicaAuto (the default), ReplicaPython or ReplicaGo.
	Replica string
	// Realistic is the realistic scenario (RunRealistic).
	Realistic RealisticConfig
	// CPUProfile, when set, receives a CPU profile of aam dev taken during
	// the max-throughput sync phase.
	CPUProfile string
	// SeedCPUProfile, when set, receives a CPU profile of aam dev taken
	// while the seed route's clients run.
	SeedCPUProfile string
	// HeapProfile, when set, receives aam dev's heap profile at the end.
	HeapProfile string
	// Out receives progress and the report.
	Out io.Writer
}

// Result is one phase's measurements.
type Result struct {
	Phase      string        `json:"phase"`
	Requests   int           `json:"requests"`
	Completed  int           `json:"completed"`
	Failed     int           `json:"failed"`
	Elapsed    time.Duration `json:"elapsed"`
	Throughput float64       `json:"throughput_per_s"`
	P50        time.Duration `json:"p50"`
	P99        time.Duration `json:"p99"`
	Max        time.Duration `json:"max"`
	// CPU is the processor time spent during the phase by aam dev, by
	// PostgreSQL and by the load generator itself.
	CPU CPUSplit `json:"cpu"`
}

// CPUSplit is processor time by process group.
type CPUSplit struct {
	AAM      time.Duration `json:"aam_dev"`
	Postgres time.Duration `json:"postgres"`
	LoadGen  time.Duration `json:"load_generator"`
	// Replica is the Python replica's process (its phase only).
	Replica time.Duration `json:"replica,omitempty"`
}

// Report is the whole run.
type Report struct {
	Results    []Result `json:"results"`
	PeakRSSMiB float64  `json:"peak_rss_mib"`
	// SeedRatio is the gateway's seed route's answers per second over the
	// prototype-style replica's, same clients, emulator and machine (0: not
	// run).
	SeedRatio float64 `json:"seed_route_over_replica"`
	// Replica says which replica SeedRatio is against.
	Replica string `json:"replica,omitempty"`
}

// dev is one aam dev process started by the benchmark, with a NATS driver
// connected to it.
type dev struct {
	cmd  *exec.Cmd
	pid  int
	logs *bytes.Buffer
	dir  string
	nc   *nats.Conn
	d    *driver

	natsAddr, emuAddr, httpAddr, gwAddr string
}

// startDev starts aam dev on a fresh registry with the emulator's jobs
// (instant or realistic) and extra environment, and waits until it is ready.
func startDev(ctx context.Context, cfg Config, jobs string, env []string) (*dev, error) {
	dir, err := os.MkdirTemp("", "aam-bench-")
	if err != nil {
		return nil, err
	}
	p := &dev{dir: dir, logs: &bytes.Buffer{}}
	ports, err := FreePorts(4)
	if err != nil {
		p.close()
		return nil, err
	}
	p.natsAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	p.emuAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	p.httpAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	p.gwAddr = fmt.Sprintf("127.0.0.1:%d", ports[3])

	// A fresh registry: the benchmark's database is emptied first.
	if err := resetDatabase(ctx, cfg.DatabaseURL); err != nil {
		p.close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, cfg.Binary, "dev", "--data-dir", filepath.Join(dir, "data"),
		"--nats-addr", p.natsAddr, "--emulator-addr", p.emuAddr, "--http-addr", p.httpAddr, "--gateway-addr", p.gwAddr,
		"--emulator-jobs", jobs, "--pprof",
		// The schema observer runs at its production interval, not at aam
		// dev's demonstration one: the benchmark measures the request path.
		"--observer-interval", "15m")
	cmd.Env = append(append(os.Environ(), "DATABASE_URL="+cfg.DatabaseURL, "LOG_LEVEL=warn", "LOG_FORMAT=json"), env...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		p.close()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	fmt.Fprintf(cfg.Out, "aam dev started (pid %d, %s jobs), waiting for readiness\n", p.pid, jobs)
	if err := WaitReady(ctx, "http://"+p.httpAddr+"/readyz", 60*time.Second); err != nil {
		p.close()
		return nil, fmt.Errorf("%w\n%s", err, tail(p.logs.String(), 40))
	}
	p.nc, err = nats.Connect("nats://"+p.natsAddr, nats.MaxReconnects(-1))
	if err != nil {
		p.close()
		return nil, err
	}
	js, err := jetstream.New(p.nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		p.close()
		return nil, err
	}
	p.d = newDriver(p.nc, js)
	if err := p.d.listen(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// close stops aam dev and removes its folder.
func (p *dev) close() {
	if p.nc != nil {
		p.nc.Close()
	}
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}
	_ = os.RemoveAll(p.dir)
}

// errorLogs reports what aam dev logged at error level, if anything.
func (p *dev) errorLogs(out io.Writer) {
	if strings.Contains(p.logs.String(), `"level":"error"`) {
		fmt.Fprintf(out, "note: aam dev logged errors:\n%s\n", tail(grepLines(p.logs.String(), `"level":"error"`), 10))
	}
}

// Run runs the benchmark's instant scenario.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	out := cfg.Out
	// The emulator without capacity bounds, as before it modelled them;
	// AAM with its default settings.
	p, err := startDev(ctx, cfg, "instant", []string{"EMULATOR_PUBLIC_API_THREADS=0", "EMULATOR_CONFIG_API_THREADS=0",
		"EMULATOR_MAX_SYNC_WORKERS=0"})
	if err != nil {
		return nil, err
	}
	defer p.close()
	pid, d, httpAddr, emuAddr := p.pid, p.d, p.httpAddr, p.emuAddr

	rep := &Report{}
	// 0. Connections to sync.
	fmt.Fprintf(out, "onboarding %d connections for the sync phases\n", cfg.Connections)
	cpu0 := sampleCPU(pid)
	conns, res, err := d.onboard(ctx, cfg.Connections, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	res.CPU = sampleCPU(pid).since(cpu0)
	res.Phase = "setup: onboard (emulator at zero latency)"
	rep.Results = append(rep.Results, res)

	// 1. Sync throughput, as fast as the stack takes them.
	fmt.Fprintf(out, "sync throughput for %s (open throttle)\n", cfg.SyncDuration)
	profDone := make(chan error, 1)
	if cfg.CPUProfile != "" {
		go func() {
			profDone <- fetchProfile("http://"+httpAddr, cfg.SyncDuration, cfg.CPUProfile)
		}()
	} else {
		profDone <- nil
	}
	cpu0 = sampleCPU(pid)
	res, err = d.sync(ctx, conns, 0, cfg.SyncDuration)
	res.CPU = sampleCPU(pid).since(cpu0)
	if perr := <-profDone; perr != nil {
		fmt.Fprintf(out, "cpu profile: %v\n", perr)
	}
	if err != nil {
		return nil, err
	}
	res.Phase = "sync, max throughput"
	rep.Results = append(rep.Results, res)

	// 2. Sync latency at a paced rate.
	fmt.Fprintf(out, "sync latency at %d requests/s for %s\n", cfg.SyncRate, cfg.SyncDuration)
	cpu0 = sampleCPU(pid)
	res, err = d.sync(ctx, conns, cfg.SyncRate, cfg.SyncDuration)
	if err != nil {
		return nil, err
	}
	res.CPU = sampleCPU(pid).since(cpu0)
	res.Phase = fmt.Sprintf("sync, paced at %d/s", cfg.SyncRate)
	rep.Results = append(rep.Results, res)

	// 3. The gateway's seed sync route, as the prototype served it: clients
	// that each wait for the answer.
	if cfg.SeedClients > 0 {
		fmt.Fprintf(out, "gateway POST /connections/{id}/sync: %d clients over %d connections for %s\n",
			cfg.SeedClients, min(cfg.SeedConnections, len(conns)), cfg.SyncDuration)
		seedProf := make(chan error, 1)
		if cfg.SeedCPUProfile != "" {
			go func() { seedProf <- fetchProfile("http://"+httpAddr, cfg.SyncDuration, cfg.SeedCPUProfile) }()
		} else {
			seedProf <- nil
		}
		cpu0 = sampleCPU(pid)
		res = seedRoute(ctx, "http://"+p.gwAddr, conns[:min(cfg.SeedConnections, len(conns))], cfg.SeedClients, cfg.SyncDuration)
		res.CPU = sampleCPU(pid).since(cpu0)
		if perr := <-seedProf; perr != nil {
			fmt.Fprintf(out, "seed route cpu profile: %v\n", perr)
		}
		res.Phase = fmt.Sprintf("gateway seed sync route, %d clients", cfg.SeedClients)
		rep.Results = append(rep.Results, res)
		gw := res.Throughput

		// The same clients against a prototype-style replica on the same
		// emulator and registry: one Airbyte call per HTTP request.
		r, label, err := startSeedReplica(ctx, cfg, "http://"+emuAddr)
		if err != nil {
			return nil, fmt.Errorf("prototype-style replica: %w", err)
		}
		rep.Replica = label
		fmt.Fprintf(out, "%s POST /connections/{id}/sync: %d clients for %s\n", label, cfg.SeedClients, cfg.SyncDuration)
		cpu0 = sampleCPU(pid)
		rcpu0 := r.cpu()
		res = seedRoute(ctx, r.url(), conns[:min(cfg.SeedConnections, len(conns))], cfg.SeedClients, cfg.SyncDuration)
		res.CPU = sampleCPU(pid).since(cpu0)
		res.CPU.Replica = r.cpu() - rcpu0
		r.close()
		if l := strings.TrimSpace(r.logs()); res.Failed > 0 && l != "" {
			fmt.Fprintf(out, "note: the replica failed %d requests; it logged:\n%s\n", res.Failed, tail(l, 12))
		}
		res.Phase = fmt.Sprintf("prototype-style replica, %d clients", cfg.SeedClients)
		rep.Results = append(rep.Results, res)
		if res.Throughput > 0 {
			rep.SeedRatio = gw / res.Throughput
		}
	}

	// 4. Concurrent onboardings with Airbyte latency.
	fmt.Fprintf(out, "%d concurrent onboardings with %s per Airbyte call\n", cfg.Onboardings, cfg.OnboardLatency)
	if err := setLatency("http://"+emuAddr, cfg.OnboardLatency); err != nil {
		return nil, err
	}
	cpu0 = sampleCPU(pid)
	_, res, err = d.onboard(ctx, cfg.Onboardings, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	res.CPU = sampleCPU(pid).since(cpu0)
	res.Phase = fmt.Sprintf("onboard x%d, %s per Airbyte call", cfg.Onboardings, cfg.OnboardLatency)
	rep.Results = append(rep.Results, res)

	rep.PeakRSSMiB = peakRSS(pid)
	if cfg.HeapProfile != "" {
		if err := fetchURL("http://"+httpAddr+"/debug/pprof/heap", cfg.HeapProfile); err != nil {
			fmt.Fprintf(out, "heap profile: %v\n", err)
		}
	}
	p.errorLogs(out)
	return rep, nil
}

// driver publishes requests and matches their facts by correlation id.
type driver struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu      sync.Mutex
	waiting map[string]*pending
	// finished holds answered requests, to count a second terminal fact
	// for one of them in dupes.
	finished map[string]*pending
	dupes    int
}

type pending struct {
	sent     time.Time
	terminal map[string]bool
	done     chan fact
}

type fact struct {
	typ  string
	at   time.Time
	data []byte
	subj string
}

func newDriver(nc *nats.Conn, js jetstream.JetStream) *driver {
	return &driver{nc: nc, js: js, waiting: map[string]*pending{}, finished: map[string]*pending{}}
}

func (d *driver) listen() error {
	// Facts are matched on their binary-mode headers (AAM's relay always
	// publishes binary mode), so the load generator spends little CPU.
	sub, err := d.nc.Subscribe(events.SubjectEventsAll, func(m *nats.Msg) {
		now := time.Now()
		id, typ := m.Header.Get("ce-correlationid"), m.Header.Get("ce-type")
		d.mu.Lock()
		p := d.waiting[id]
		if p != nil && p.terminal[typ] {
			delete(d.waiting, id)
			d.finished[id] = p
		} else {
			if f := d.finished[id]; f != nil && f.terminal[typ] {
				d.dupes++
			}
			p = nil
		}
		d.mu.Unlock()
		if p != nil {
			subj, _ := events.PercentDecode(m.Header.Get("ce-subject"))
			p.done <- fact{typ: typ, at: now, data: m.Data, subj: subj}
		}
	})
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1)
	return d.nc.Flush()
}

func (d *driver) send(ctx context.Context, typ string, data any, terminal ...string) (*pending, error) {
	desc, _ := events.Lookup(typ)
	e, err := events.New(typ, "/aam/bench", data)
	if err != nil {
		return nil, err
	}
	msg, err := events.ToMsg(desc.Subject, e, events.Binary)
	if err != nil {
		return nil, err
	}
	p := &pending{terminal: map[string]bool{}, done: make(chan fact, 1)}
	for _, t := range terminal {
		p.terminal[t] = true
	}
	d.mu.Lock()
	d.waiting[e.ID()] = p
	d.mu.Unlock()
	p.sent = time.Now()
	if _, err := d.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID())); err != nil {
		d.mu.Lock()
		delete(d.waiting, e.ID())
		d.mu.Unlock()
		return nil, err
	}
	return p, nil
}

func (d *driver) onboard(ctx context.Context, n int, timeout time.Duration) ([]string, Result, error) {
	var ps []*pending
	start := time.Now()
	for i := range n {
		p, err := d.send(ctx, events.TypeOnboardRequested, events.OnboardRequested{
			SourceType: "Salesforce", ConnectionName: fmt.Sprintf("bench-%d-%d", start.UnixNano(), i), CredentialID: "salesforce-prod",
		}, events.TypeOnboarded, events.TypeOnboardFailed, events.TypeRequestRejected)
		if err != nil {
			return nil, Result{}, err
		}
		ps = append(ps, p)
	}
	res, facts := collect(ctx, ps, start, timeout)
	var conns []string
	for _, f := range facts {
		if f.typ == events.TypeOnboarded {
			conns = append(conns, f.subj)
		}
	}
	if len(conns) == 0 {
		return nil, res, errors.New("no connection was onboarded")
	}
	return conns, res, nil
}

// sync sends sync requests round-robin over conns for dur, paced at rate
// per second (0: as fast as acknowledgements allow).
func (d *driver) sync(ctx context.Context, conns []string, rate int, dur time.Duration) (Result, error) {
	var ps []*pending
	start := time.Now()
	var interval time.Duration
	if rate > 0 {
		interval = time.Second / time.Duration(rate)
	}
	next := start
	for i := 0; time.Since(start) < dur; i++ {
		if interval > 0 {
			next = next.Add(interval)
			if w := time.Until(next); w > 0 {
				time.Sleep(w)
			}
		} else if i%512 == 511 {
			// Open throttle: keep at most a few thousand requests in flight.
			for d.inflight() > 4000 {
				time.Sleep(time.Millisecond)
			}
		}
		p, err := d.send(ctx, events.TypeSyncRequested, events.SyncRequested{ConnectionID: conns[i%len(conns)]},
			events.TypeSyncSucceeded, events.TypeSyncFailed, events.TypeSyncCancelled, events.TypeRequestRejected)
		if err != nil {
			return Result{}, err
		}
		ps = append(ps, p)
	}
	res, _ := collect(ctx, ps, start, 2*time.Minute)
	return res, nil
}

func (d *driver) inflight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.waiting)
}

func collect(ctx context.Context, ps []*pending, start time.Time, timeout time.Duration) (Result, []fact) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var lat []time.Duration
	var facts []fact
	var last time.Time
	failed := 0
	for _, p := range ps {
		select {
		case f := <-p.done:
			facts = append(facts, f)
			lat = append(lat, f.at.Sub(p.sent))
			if f.at.After(last) {
				last = f.at
			}
			if !strings.HasSuffix(f.typ, ".onboarded.v1") && !strings.HasSuffix(f.typ, ".succeeded.v1") {
				failed++
			}
		case <-deadline.C:
			goto done
		case <-ctx.Done():
			goto done
		}
	}
done:
	slices.Sort(lat)
	r := Result{Requests: len(ps), Completed: len(lat), Failed: failed}
	if len(lat) > 0 {
		r.Elapsed = last.Sub(start)
		r.Throughput = float64(len(lat)) / r.Elapsed.Seconds()
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		r.Max = lat[len(lat)-1]
	}
	return r, facts
}

func fetchProfile(base string, d time.Duration, path string) error {
	secs := max(1, int(d.Seconds())-1)
	return fetchURL(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), path)
}

func fetchURL(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func setLatency(emulatorURL string, d time.Duration) error {
	body := fmt.Sprintf(`{"latency": %d}`, d.Milliseconds())
	resp, err := http.Post(emulatorURL+"/_emulator/faults", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set emulator latency: %s", resp.Status)
	}
	return nil
}

// WaitReady polls url until it answers 200 OK, for at most timeout.
func WaitReady(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready at %s after %s", url, timeout)
}

// peakRSS reads the process's high-water resident set (VmHWM) in MiB.
func peakRSS(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// FreePorts returns n TCP ports free on 127.0.0.1 at the time of the call.
func FreePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return out, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n%-44s %7s %7s %6s %8s %7s %9s %9s   %s\n", "phase", "sent", "done", "failed", "elapsed", "per s", "p50", "p99",
		"CPU µs/request: aam dev + postgres + load generator")
	for _, x := range r.Results {
		per := func(d time.Duration) float64 {
			if x.Completed == 0 {
				return 0
			}
			return float64(d.Microseconds()) / float64(x.Completed)
		}
		replica := ""
		if x.CPU.Replica > 0 {
			replica = fmt.Sprintf(" + %.0f in the replica", per(x.CPU.Replica))
		}
		fmt.Fprintf(w, "%-44s %7d %7d %6d %8s %7.0f %9s %9s   %.0f + %.0f + %.0f%s\n", x.Phase, x.Requests, x.Completed, x.Failed,
			x.Elapsed.Round(10*time.Millisecond), x.Throughput, x.P50.Round(100*time.Microsecond), x.P99.Round(100*time.Microsecond),
			per(x.CPU.AAM), per(x.CPU.Postgres), per(x.CPU.LoadGen), replica)
	}
	fmt.Fprintf(w, "aam dev peak RSS: %.0f MiB\n", r.PeakRSSMiB)
	if r.SeedRatio > 0 {
		mark := "met   "
		if r.SeedRatio < 5 {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "%s gateway seed sync route at least 5x the prototype-style replica: %.2fx, against the %s\n",
			mark, r.SeedRatio, r.Replica)
	}
	for _, x := range r.Results {
		if x.Phase == "sync, max throughput" {
			mark := "met   "
			if x.Throughput < 1600 {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "%s instant-jobs sync throughput over NATS at least 1,600/s: %.0f/s\n", mark, x.Throughput)
		}
	}
}

// JSON returns the report as JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return b
}

func resetDatabase(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("benchmark database: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public`)
	return err
}

// cpuSample is cumulative processor time of the process groups.
type cpuSample struct{ aam, pg, self time.Duration }

func (a cpuSample) since(b cpuSample) CPUSplit {
	return CPUSplit{AAM: a.aam - b.aam, Postgres: a.pg - b.pg, LoadGen: a.self - b.self}
}

// sampleCPU reads utime+stime of aam dev, of every postgres process and of
// this process from /proc.
func sampleCPU(pid int) cpuSample {
	var s cpuSample
	s.aam = procCPU(fmt.Sprintf("/proc/%d/stat", pid))
	s.self = procCPU("/proc/self/stat")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(b)) != "postgres" {
			continue
		}
		s.pg += procCPU("/proc/" + e.Name() + "/stat")
	}
	return s
}

// procCPU returns utime+stime of a /proc/<pid>/stat file (clock ticks of
// 10 ms on Linux).
func procCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
