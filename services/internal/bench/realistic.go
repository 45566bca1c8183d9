package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aam-mesh/aam/events"
)

// The emulator's realistic job timings (its DefaultConfig): a job is pending
// this long after its creation, then runs for JobRunning once a sync worker
// is free.
const (
	realJobPending = time.Second
	realJobRunning = 3 * time.Second
)

// RealisticConfig sets the realistic scenario: onboardings, then a burst of
// sync requests, against the emulator with Airbyte's capacity model (bounded
// API pools, at most SyncWorkers jobs running), and a run with AAM's bound
// above the emulator's pool while the emulator answers 429 to a full queue.
type RealisticConfig struct {
	// Connections onboarded, then Requests sync requests sent at once,
	// round-robin over them.
	Connections int
	Requests    int
	// PublicThreads, ConfigThreads and SyncWorkers size the emulator
	// (EMULATOR_PUBLIC_API_THREADS, EMULATOR_CONFIG_API_THREADS,
	// EMULATOR_MAX_SYNC_WORKERS). AAM's bound on calls in flight
	// (AIRBYTE_MAX_IN_FLIGHT) is set to PublicThreads, the configuration
	// API's to ConfigThreads.
	PublicThreads int
	ConfigThreads int
	SyncWorkers   int
	// Overload: a run with AAM's bound at OverloadBound, above the
	// emulator's OverloadThreads-thread public pool, which answers 429 once
	// OverloadQueue requests wait; OverloadConnections onboarded, then
	// OverloadRequests sync requests. Every call holds its thread for
	// OverloadCallTime (EMULATOR_CALL_TIME), as a real Airbyte's work per
	// call, so that AAM's calls fill the pool. 0 connections: no such run.
	OverloadConnections int
	OverloadRequests    int
	OverloadThreads     int
	OverloadQueue       int
	OverloadBound       int
	OverloadCallTime    time.Duration
}

// capacityStats is what the emulator reports under /_emulator/capacity.
type capacityStats struct {
	Pools map[string]struct {
		Threads     int     `json:"threads"`
		Busy        int     `json:"busy"`
		MaxBusy     int     `json:"max_busy"`
		Queued      int     `json:"queued"`
		MaxInFlight int     `json:"max_in_flight"`
		Served      int64   `json:"served"`
		Rejected    int64   `json:"rejected"`
		BusySeconds float64 `json:"busy_seconds"`
	} `json:"pools"`
	Jobs struct {
		Workers    int `json:"workers"`
		MaxRunning int `json:"max_running"`
		MaxWaiting int `json:"max_waiting"`
	} `json:"jobs"`
	Endpoints map[string]struct {
		Pool        string `json:"pool"`
		Calls       int64  `json:"calls"`
		MaxInFlight int    `json:"max_in_flight"`
		Rejected    int64  `json:"rejected"`
	} `json:"endpoints"`
}

// RealPhase is one phase of the realistic scenario.
type RealPhase struct {
	Result
	// Floor is the shortest time the emulator's capacity allows for the
	// same work, and FloorHow how it was computed.
	Floor    time.Duration `json:"floor"`
	FloorHow string        `json:"floor_how"`
	// Jobs the requests' facts name (distinct), jobs the emulator created
	// during the phase, and terminal facts beyond the first for a request.
	Jobs       int `json:"jobs"`
	EmuJobs    int `json:"emulator_jobs"`
	Duplicates int `json:"duplicate_terminal_facts"`
	// Capacity is the emulator's counters for the phase (nil when the
	// emulator has no capacity model).
	Capacity *capacityStats `json:"capacity,omitempty"`
}

// Overload is the run with AAM's bound above the emulator's pool.
type Overload struct {
	Sync      Result        `json:"sync"`
	Onboard   Result        `json:"onboard"`
	Threads   int           `json:"threads"`
	Queue     int           `json:"queue"`
	Bound     int           `json:"bound"`
	CallTime  time.Duration `json:"call_time"`
	Rejected  int64         `json:"rejected_429"`
	MaxInPool int           `json:"max_in_pool"`
	// FirstReject is when the first 429 was answered, Converged how long
	// after it the public pool first held no more than its threads (no
	// request waiting), and LastOver how long after it a sample last saw
	// requests waiting; OverFraction the share of samples after
	// convergence that saw requests waiting.
	FirstReject  time.Duration `json:"first_reject"`
	Converged    time.Duration `json:"converged"`
	LastOver     time.Duration `json:"last_over"`
	OverFraction float64       `json:"over_fraction"`
	Samples      int           `json:"samples"`
	Duplicates   int           `json:"duplicate_terminal_facts"`
	PeakRSSMiB   float64       `json:"peak_rss_mib"`
}

// RealReport is the realistic scenario.
type RealReport struct {
	Config     RealisticConfig `json:"config"`
	Onboard    RealPhase       `json:"onboard"`
	Sync       RealPhase       `json:"sync"`
	PeakRSSMiB float64         `json:"peak_rss_mib"`
	Overload   *Overload       `json:"overload,omitempty"`
}

// RunRealistic runs the realistic scenario.
func RunRealistic(ctx context.Context, cfg Config) (*RealReport, error) {
	rc, out := cfg.Realistic, cfg.Out
	rep := &RealReport{Config: rc}
	env := []string{
		"EMULATOR_PUBLIC_API_THREADS=" + strconv.Itoa(rc.PublicThreads),
		"EMULATOR_CONFIG_API_THREADS=" + strconv.Itoa(rc.ConfigThreads),
		"EMULATOR_MAX_SYNC_WORKERS=" + strconv.Itoa(rc.SyncWorkers),
		"AIRBYTE_MAX_IN_FLIGHT=" + strconv.Itoa(rc.PublicThreads),
		"AIRBYTE_CONFIG_API_MAX_IN_FLIGHT=" + strconv.Itoa(rc.ConfigThreads),
		// Enough onboardings at once to keep the discover pool full while
		// others are at their public API steps.
		"ONBOARDING_CONCURRENCY=" + strconv.Itoa(2*rc.ConfigThreads),
	}
	p, err := startDev(ctx, cfg, "realistic", env)
	if err != nil {
		return nil, err
	}
	defer p.close()
	emu := "http://" + p.emuAddr

	// 1. Onboarding.
	fmt.Fprintf(out, "realistic: onboarding %d connections (%d public API threads, %d configuration API threads)\n",
		rc.Connections, rc.PublicThreads, rc.ConfigThreads)
	_ = resetCapacity(emu)
	jobs0 := emulatorJobs(emu)
	conns, res, err := p.d.onboard(ctx, rc.Connections, 20*time.Minute)
	if err != nil {
		return nil, err
	}
	rep.Onboard = RealPhase{Result: res, EmuJobs: emulatorJobs(emu) - jobs0, Duplicates: p.d.takeDupes()}
	rep.Onboard.Phase = fmt.Sprintf("onboard x%d", rc.Connections)
	if c, err := getCapacity(emu); err == nil {
		rep.Onboard.Capacity = c
		var how []string
		for _, name := range sortedKeys(c.Pools) {
			pl := c.Pools[name]
			if pl.Threads <= 0 || pl.BusySeconds == 0 {
				continue
			}
			f := time.Duration(pl.BusySeconds / float64(pl.Threads) * float64(time.Second))
			how = append(how, fmt.Sprintf("%s %.1f thread-s / %d", name, pl.BusySeconds, pl.Threads))
			rep.Onboard.Floor = max(rep.Onboard.Floor, f)
		}
		rep.Onboard.FloorHow = "busiest pool: " + strings.Join(how, ", ")
	} else {
		fmt.Fprintf(out, "the emulator reports no capacity (%v): no floor, no call counts\n", err)
	}

	// 2. The burst of sync requests.
	fmt.Fprintf(out, "realistic: %d sync requests at once over %d connections (%d sync workers)\n",
		rc.Requests, len(conns), rc.SyncWorkers)
	_ = resetCapacity(emu)
	jobs0 = emulatorJobs(emu)
	res, facts := p.d.burst(ctx, conns, rc.Requests, 20*time.Minute)
	rep.Sync = RealPhase{Result: res, EmuJobs: emulatorJobs(emu) - jobs0}
	rep.Sync.Phase = fmt.Sprintf("sync burst x%d", rc.Requests)
	ids := map[string]bool{}
	for _, f := range facts {
		var v struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal(f.data, &v) == nil && v.JobID != "" {
			ids[v.JobID] = true
		}
	}
	rep.Sync.Jobs = len(ids)
	// Give a second fact time to arrive before counting duplicates.
	time.Sleep(2 * time.Second)
	rep.Sync.Duplicates = p.d.takeDupes()
	if c, err := getCapacity(emu); err == nil {
		rep.Sync.Capacity = c
		w := c.Jobs.Workers
		if w <= 0 {
			w = rep.Sync.Jobs
		}
		rounds := int(math.Ceil(float64(rep.Sync.Jobs) / float64(max(w, 1))))
		rep.Sync.Floor = realJobPending + time.Duration(rounds)*realJobRunning
		rep.Sync.FloorHow = fmt.Sprintf("%s pending + ceil(%d jobs / %d workers) x %s running", realJobPending, rep.Sync.Jobs, w, realJobRunning)
	}
	rep.PeakRSSMiB = peakRSS(p.pid)
	p.errorLogs(out)
	p.close()

	if rc.OverloadConnections > 0 {
		o, err := runOverload(ctx, cfg)
		if err != nil {
			return nil, err
		}
		rep.Overload = o
	}
	return rep, nil
}

// runOverload runs onboardings and a sync burst with AAM's bound above the
// emulator's public pool, the pool answering 429 when its queue is full, and
// samples the pool to see AAM's calls in flight come back under it.
func runOverload(ctx context.Context, cfg Config) (*Overload, error) {
	rc, out := cfg.Realistic, cfg.Out
	o := &Overload{Threads: rc.OverloadThreads, Queue: rc.OverloadQueue, Bound: rc.OverloadBound, CallTime: rc.OverloadCallTime}
	env := []string{
		"EMULATOR_PUBLIC_API_THREADS=" + strconv.Itoa(rc.OverloadThreads),
		"EMULATOR_QUEUE_LIMIT=" + strconv.Itoa(rc.OverloadQueue),
		"EMULATOR_CALL_TIME=" + rc.OverloadCallTime.String(),
		"EMULATOR_MAX_SYNC_WORKERS=" + strconv.Itoa(rc.SyncWorkers),
		"AIRBYTE_MAX_IN_FLIGHT=" + strconv.Itoa(rc.OverloadBound),
	}
	p, err := startDev(ctx, cfg, "realistic", env)
	if err != nil {
		return nil, err
	}
	defer p.close()
	emu := "http://" + p.emuAddr
	fmt.Fprintf(out, "overload: AAM bound %d over a %d-thread public pool answering 429 beyond %d waiting, %s per call; %d onboardings, then %d sync requests\n",
		rc.OverloadBound, rc.OverloadThreads, rc.OverloadQueue, rc.OverloadCallTime, rc.OverloadConnections, rc.OverloadRequests)
	_ = resetCapacity(emu)

	type sample struct {
		at       time.Time
		inPool   int
		rejected int64
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case now := <-t.C:
				c, err := getCapacity(emu)
				if err != nil {
					continue
				}
				pl := c.Pools["public-api"]
				mu.Lock()
				samples = append(samples, sample{at: now, inPool: pl.Busy + pl.Queued, rejected: pl.Rejected})
				mu.Unlock()
			}
		}
	}()
	start := time.Now()
	conns, res, err := p.d.onboard(ctx, rc.OverloadConnections, 10*time.Minute)
	if err != nil {
		stop()
		wg.Wait()
		return nil, err
	}
	o.Onboard = res
	o.Sync, _ = p.d.burst(ctx, conns, rc.OverloadRequests, 10*time.Minute)
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	o.Duplicates = p.d.takeDupes()
	o.PeakRSSMiB = peakRSS(p.pid)
	if c, err := getCapacity(emu); err == nil {
		pl := c.Pools["public-api"]
		o.Rejected, o.MaxInPool = pl.Rejected, pl.MaxInFlight
	}
	o.Samples = len(samples)
	first := -1
	for i, s := range samples {
		if s.rejected > 0 {
			first = i
			break
		}
	}
	if first >= 0 {
		t0 := samples[first].at
		o.FirstReject = t0.Sub(start)
		conv := -1
		for i := first; i < len(samples); i++ {
			if samples[i].inPool <= rc.OverloadThreads {
				conv = i
				break
			}
		}
		if conv >= 0 {
			o.Converged = samples[conv].at.Sub(t0)
			over := 0
			for _, s := range samples[conv:] {
				if s.inPool > rc.OverloadThreads {
					over++
					o.LastOver = s.at.Sub(t0)
				}
			}
			o.OverFraction = float64(over) / float64(len(samples)-conv)
		} else {
			o.Converged = -1
		}
	}
	p.errorLogs(out)
	return o, nil
}

// burst publishes n sync requests at once, round-robin over conns, and
// collects their terminal facts.
func (d *driver) burst(ctx context.Context, conns []string, n int, timeout time.Duration) (Result, []fact) {
	ps := make([]*pending, 0, n)
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; {
		p, err := d.send(ctx, events.TypeSyncRequested, events.SyncRequested{ConnectionID: conns[i%len(conns)]},
			events.TypeSyncSucceeded, events.TypeSyncFailed, events.TypeSyncCancelled, events.TypeRequestRejected)
		if err != nil {
			// Too many publishes awaiting their acknowledgement: let them
			// drain, then send this one again.
			select {
			case <-d.js.PublishAsyncComplete():
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		ps = append(ps, p)
		i++
	}
	res, facts := collect(ctx, ps, start, timeout)
	res.Requests = n
	return res, facts
}

func (d *driver) takeDupes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.dupes
	d.dupes = 0
	return n
}

// seedRoute drives the gateway's seed route POST /connections/{id}/sync with
// clients concurrent callers, each waiting for its answer, for dur.
func seedRoute(ctx context.Context, gw string, conns []string, clients int, dur time.Duration) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		failed int
		next   atomic.Int64
	)
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				conn := conns[int(next.Add(1))%len(conns)]
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/connections/"+conn+"/sync", nil)
				resp, err := hc.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				if ok {
					lat = append(lat, d)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := Result{Requests: len(lat) + failed, Completed: len(lat), Failed: failed, Elapsed: elapsed}
	if len(lat) > 0 {
		r.Throughput = float64(len(lat)) / elapsed.Seconds()
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		r.Max = lat[len(lat)-1]
	}
	return r
}

func getCapacity(emu string) (*capacityStats, error) {
	resp, err := http.Get(emu + "/_emulator/capacity")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_emulator/capacity: %s", resp.Status)
	}
	var c capacityStats
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func resetCapacity(emu string) error {
	req, _ := http.NewRequest(http.MethodDelete, emu+"/_emulator/capacity", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// emulatorJobs is how many jobs the emulator has created so far (kept and
// pruned), or 0 when it does not say.
func emulatorJobs(emu string) int {
	resp, err := http.Get(emu + "/_emulator/state")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Jobs struct {
			Total  int `json:"total"`
			Pruned int `json:"pruned"`
		} `json:"jobs"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.Jobs.Total + st.Jobs.Pruned
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// isFollowing says whether an endpoint is a job read or list (following):
// the public API's GET /jobs and GET /jobs/{id}, and the configuration
// API's job list. The read of an ended job (jobs/get) is the job's own.
func isFollowing(route string) bool {
	return strings.HasPrefix(route, "GET ") && strings.Contains(route, "/jobs") ||
		strings.HasSuffix(route, "/jobs/list_for_workspaces") || strings.HasSuffix(route, "/jobs/list")
}

// Print writes the realistic scenario's tables and its targets.
func (r *RealReport) Print(w io.Writer) {
	rc := r.Config
	fmt.Fprintf(w, "\nrealistic scenario: %d connections, %d sync requests; emulator: %d public API threads, %d configuration API threads, "+
		"%d sync workers, jobs %s pending + %s running, discovers 2s; AAM bound %d (configuration API %d), %d onboardings at once\n",
		rc.Connections, rc.Requests, rc.PublicThreads, rc.ConfigThreads, rc.SyncWorkers, realJobPending, realJobRunning,
		rc.PublicThreads, rc.ConfigThreads, 2*rc.ConfigThreads)
	fmt.Fprintf(w, "%-22s %7s %7s %6s %9s %9s %6s %9s %9s %6s %7s %6s\n", "phase", "sent", "done", "failed", "wall", "floor", "ratio",
		"p50", "p99", "jobs", "429s", "max in")
	for _, ph := range []RealPhase{r.Onboard, r.Sync} {
		ratio, rejected, maxIn := 0.0, int64(0), 0
		if ph.Floor > 0 {
			ratio = ph.Elapsed.Seconds() / ph.Floor.Seconds()
		}
		if ph.Capacity != nil {
			for _, pl := range ph.Capacity.Pools {
				rejected += pl.Rejected
			}
			maxIn = ph.Capacity.Pools["public-api"].MaxInFlight
		}
		fmt.Fprintf(w, "%-22s %7d %7d %6d %9s %9s %6.2f %9s %9s %6d %7d %6d\n", ph.Phase, ph.Requests, ph.Completed, ph.Failed,
			ph.Elapsed.Round(10*time.Millisecond), ph.Floor.Round(10*time.Millisecond), ratio, ph.P50.Round(time.Millisecond),
			ph.P99.Round(time.Millisecond), max(ph.Jobs, ph.EmuJobs), rejected, maxIn)
	}
	fmt.Fprintf(w, "floors: onboard = %s; sync = %s\n", r.Onboard.FloorHow, r.Sync.FloorHow)
	fmt.Fprintf(w, "(max in: high-water mark of public API calls in the emulator, served + queued; 429s: answers to a full queue; "+
		"the emulator answers 503 only under injected faults, none here)\n")
	for _, ph := range []RealPhase{r.Onboard, r.Sync} {
		if ph.Capacity == nil {
			continue
		}
		fmt.Fprintf(w, "\nAirbyte calls, %s:\n%-52s %8s %11s %8s %8s\n", ph.Phase, "endpoint", "calls", "per request", "per job", "max in")
		for _, route := range sortedKeys(ph.Capacity.Endpoints) {
			ep := ph.Capacity.Endpoints[route]
			fmt.Fprintf(w, "%-52s %8d %11.3f %8s %8d\n", route, ep.Calls, per(ep.Calls, ph.Requests), perJob(ep.Calls, ph.Jobs), ep.MaxInFlight)
		}
	}
	fmt.Fprintf(w, "aam dev peak RSS: %.0f MiB (%.0f MB)\n", r.PeakRSSMiB, r.PeakRSSMiB*1.048576)
	if o := r.Overload; o != nil {
		fmt.Fprintf(w, "\noverload: AAM bound %d, emulator public pool %d threads answering 429 beyond %d waiting, every call holding its thread %s\n",
			o.Bound, o.Threads, o.Queue, o.CallTime)
		fmt.Fprintf(w, "  onboard x%d: %d done, %d failed, %s; sync x%d: %d done, %d failed, %s\n", o.Onboard.Requests, o.Onboard.Completed,
			o.Onboard.Failed, o.Onboard.Elapsed.Round(10*time.Millisecond), o.Sync.Requests, o.Sync.Completed, o.Sync.Failed,
			o.Sync.Elapsed.Round(10*time.Millisecond))
		if o.Rejected == 0 {
			fmt.Fprintf(w, "  no 429 answered (max %d in the pool)\n", o.MaxInPool)
		} else {
			fmt.Fprintf(w, "  429s: %d, first at %s; max %d in the pool; back to <= %d in the pool %s after the first 429; "+
				"afterwards %.1f%% of %d samples saw calls waiting (last %s after the first 429)\n",
				o.Rejected, o.FirstReject.Round(100*time.Millisecond), o.MaxInPool, o.Threads, o.Converged.Round(100*time.Millisecond),
				100*o.OverFraction, o.Samples, o.LastOver.Round(100*time.Millisecond))
		}
	}
	r.printTargets(w)
}

func per(n int64, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func perJob(n int64, jobs int) string {
	if jobs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(jobs))
}

func (r *RealReport) printTargets(w io.Writer) {
	fmt.Fprintf(w, "\ntargets:\n")
	check := func(ok bool, format string, a ...any) {
		mark := "met   "
		if !ok {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, fmt.Sprintf(format, a...))
	}
	s, o := r.Sync, r.Onboard
	if s.Floor > 0 {
		ratio := s.Elapsed.Seconds() / s.Floor.Seconds()
		check(ratio <= 1.25 && s.Completed == s.Requests, "sync burst within 1.25x the emulator's floor: %.2fx (%s / %s)", ratio,
			s.Elapsed.Round(10*time.Millisecond), s.Floor.Round(10*time.Millisecond))
	}
	if s.Capacity != nil && s.Jobs > 0 {
		var other, follow int64
		for route, ep := range s.Capacity.Endpoints {
			if isFollowing(route) {
				follow += ep.Calls
			} else {
				other += ep.Calls
			}
		}
		check(float64(other) <= 3*float64(s.Jobs), "<= 3 Airbyte calls per job started, besides following: %.2f (%d calls, %d jobs)",
			float64(other)/float64(s.Jobs), other, s.Jobs)
		// Each job changes state at least twice (pending to running to
		// succeeded); a poll round every SYNC_POLL_INTERVAL (2 s) at most.
		rounds := math.Max(1, s.Elapsed.Seconds()/2)
		changes := 2 * float64(s.Jobs)
		allowed := rounds * math.Ceil(changes/rounds/100)
		check(float64(follow) <= allowed, "following <= 1 call per 100 changed jobs per poll round: %d job reads over ~%.0f rounds "+
			"of %.0f changes each (allowed %.0f)", follow, rounds, changes/rounds, allowed)
	}
	if o.Floor > 0 {
		ratio := o.Elapsed.Seconds() / o.Floor.Seconds()
		check(ratio <= 1.25 && o.Completed == o.Requests, "onboarding within 1.25x the emulator's floor: %.2fx (%s / %s)", ratio,
			o.Elapsed.Round(10*time.Millisecond), o.Floor.Round(10*time.Millisecond))
	}
	for _, ph := range []RealPhase{o, s} {
		check(ph.Completed == ph.Requests && ph.Duplicates == 0, "%s: every request exactly one terminal fact: %d of %d answered, %d second facts",
			ph.Phase, ph.Completed, ph.Requests, ph.Duplicates)
	}
	if s.EmuJobs > 0 {
		check(s.EmuJobs == s.Jobs, "no second job for a request: the emulator created %d jobs, the facts name %d", s.EmuJobs, s.Jobs)
	}
	if s.Capacity != nil {
		maxIn := 0
		if s.Capacity != nil {
			maxIn = max(maxIn, s.Capacity.Pools["public-api"].MaxInFlight)
		}
		if o.Capacity != nil {
			maxIn = max(maxIn, o.Capacity.Pools["public-api"].MaxInFlight)
		}
		check(maxIn <= r.Config.PublicThreads, "public API calls in flight never above AAM's bound %d: max %d", r.Config.PublicThreads, maxIn)
	}
	rss := r.PeakRSSMiB
	if r.Overload != nil {
		rss = max(rss, r.Overload.PeakRSSMiB)
	}
	check(rss*1.048576 <= 150, "aam dev RSS <= 150 MB: %.0f MB", rss*1.048576)
	if ov := r.Overload; ov != nil {
		failed := ov.Onboard.Failed + ov.Sync.Failed + (ov.Onboard.Requests - ov.Onboard.Completed) + (ov.Sync.Requests - ov.Sync.Completed)
		if ov.Rejected == 0 {
			fmt.Fprintf(w, "  NOT SHOWN overload: the emulator answered no 429 (at most %d calls in its pool), so no convergence was needed\n", ov.MaxInPool)
		} else {
			check(ov.Converged >= 0 && ov.Converged <= 10*time.Second,
				"overload: back under the emulator's pool within 10 s of the first 429: %s", ov.Converged.Round(100*time.Millisecond))
		}
		check(failed == 0 && ov.Duplicates == 0, "overload: no request failed or unanswered: %d", failed)
	}
}
