package emulator

import (
	"container/list"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Capacity. Airbyte's API server runs every public API controller on a fixed
// pool of PUBLIC_API_EXECUTOR_THREADS (5) threads and the Configuration API on
// the io pool (100): a request beyond a pool waits until a thread frees, and a
// slow request holds its thread for its whole duration. The emulator serves each
// API through a pool of the same kind (Config.PublicAPIThreads,
// Config.ConfigAPIThreads) and counts, per endpoint and per pool, what it
// served, how many calls were in flight at most, and how long threads were busy.

// Pool names, as Airbyte's micronaut.executors call them.
const (
	poolPublic = "public-api"
	poolConfig = "io"
)

// pool is a fixed-size executor with a FIFO queue: a request that finds every
// thread busy waits, in arrival order, until one frees. size <= 0 means no bound.
type pool struct {
	name       string
	size       int
	queueLimit int

	mu        sync.Mutex
	busy      int
	queue     list.List // of chan struct{}, closed when the waiter gets a thread
	maxBusy   int
	maxQueued int
	maxInPool int // busy + queued
	served    int64
	rejected  int64
	busyTime  time.Duration
}

func newPool(name string, size, queueLimit int) *pool {
	return &pool{name: name, size: size, queueLimit: queueLimit}
}

// acquire waits for a thread. It returns false, holding nothing, when the
// request gave up while waiting (done closed) or was refused because the queue
// was full (rejected true).
func (p *pool) acquire(done <-chan struct{}) (ok, rejected bool) {
	p.mu.Lock()
	if p.size <= 0 || (p.busy < p.size && p.queue.Len() == 0) {
		p.busy++
		p.maxBusy = max(p.maxBusy, p.busy)
		p.maxInPool = max(p.maxInPool, p.busy+p.queue.Len())
		p.mu.Unlock()
		return true, false
	}
	if p.queueLimit > 0 && p.queue.Len() >= p.queueLimit {
		p.rejected++
		p.mu.Unlock()
		return false, true
	}
	ch := make(chan struct{})
	el := p.queue.PushBack(ch)
	p.maxQueued = max(p.maxQueued, p.queue.Len())
	p.maxInPool = max(p.maxInPool, p.busy+p.queue.Len())
	p.mu.Unlock()
	select {
	case <-ch:
		return true, false
	case <-done:
		p.mu.Lock()
		select {
		case <-ch: // handed a thread just now: give it back
			p.mu.Unlock()
			p.release(0)
		default:
			p.queue.Remove(el)
			p.mu.Unlock()
		}
		return false, false
	}
}

// release returns a thread held for d, handing it to the oldest waiter if any.
func (p *pool) release(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busyTime += d
	if d > 0 {
		p.served++
	}
	if front := p.queue.Front(); front != nil && p.size > 0 {
		close(p.queue.Remove(front).(chan struct{}))
		return
	}
	p.busy--
}

// PoolStats is one pool's counters.
type PoolStats struct {
	// Threads is the pool size (0: unbounded).
	Threads int `json:"threads"`
	// Busy threads and queued requests now, and their high-water marks.
	Busy      int `json:"busy"`
	MaxBusy   int `json:"max_busy"`
	Queued    int `json:"queued"`
	MaxQueued int `json:"max_queued"`
	// MaxInFlight is the high-water mark of requests in the pool (busy + queued).
	MaxInFlight int `json:"max_in_flight"`
	// Served requests, Rejected ones (429 with Config.QueueLimit), and the
	// total time threads were busy, in seconds.
	Served      int64   `json:"served"`
	Rejected    int64   `json:"rejected"`
	BusySeconds float64 `json:"busy_seconds"`
}

func (p *pool) stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Threads: max(p.size, 0), Busy: p.busy, MaxBusy: p.maxBusy, Queued: p.queue.Len(), MaxQueued: p.maxQueued,
		MaxInFlight: p.maxInPool, Served: p.served, Rejected: p.rejected, BusySeconds: p.busyTime.Seconds()}
}

func (p *pool) resetStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxBusy, p.maxQueued, p.maxInPool = p.busy, p.queue.Len(), p.busy+p.queue.Len()
	p.served, p.rejected, p.busyTime = 0, 0, 0
}

// EndpointStats counts the calls of one route ("GET /api/public/v1/jobs/{jobId}").
type EndpointStats struct {
	Pool string `json:"pool"`
	// Calls answered (any status), and the time they held a thread, in seconds.
	Calls       int64   `json:"calls"`
	BusySeconds float64 `json:"busy_seconds"`
	// InFlight calls now (waiting for a thread or being served) and the
	// high-water mark; MaxActive is the most served at once.
	InFlight    int `json:"in_flight"`
	MaxInFlight int `json:"max_in_flight"`
	MaxActive   int `json:"max_active"`
	// Rejected calls (429 with Config.QueueLimit), not included in Calls.
	Rejected int64 `json:"rejected"`
}

// endpoint is one route's live counters. Guarded by capacity.mu.
type endpoint struct {
	EndpointStats
	active   int
	busyTime time.Duration
}

// capacity holds the pools and the per-endpoint counters.
type capacity struct {
	pools     map[string]*pool
	mu        sync.Mutex
	endpoints map[string]*endpoint
}

func newCapacity(cfg Config) *capacity {
	return &capacity{
		pools: map[string]*pool{
			poolPublic: newPool(poolPublic, cfg.PublicAPIThreads, cfg.QueueLimit),
			poolConfig: newPool(poolConfig, cfg.ConfigAPIThreads, cfg.QueueLimit),
		},
		endpoints: map[string]*endpoint{},
	}
}

func (c *capacity) endpoint(route, pool string) *endpoint {
	ep, ok := c.endpoints[route]
	if !ok {
		ep = &endpoint{EndpointStats: EndpointStats{Pool: pool}}
		c.endpoints[route] = ep
	}
	return ep
}

// serve runs next for route on the named pool: it counts the call in flight,
// waits for a thread (or answers 429 when the pool's queue is full), serves, and
// releases the thread when next returns, so a slow call holds it throughout.
func (e *Emulator) serve(poolName, route string, next http.Handler) http.Handler {
	c := e.capacity
	p := c.pools[poolName]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		ep := c.endpoint(route, poolName)
		ep.InFlight++
		ep.MaxInFlight = max(ep.MaxInFlight, ep.InFlight)
		c.mu.Unlock()
		ok, rejected := p.acquire(r.Context().Done())
		if !ok {
			c.mu.Lock()
			ep.InFlight--
			if rejected {
				ep.Rejected++
			}
			c.mu.Unlock()
			if rejected {
				writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited."})
			}
			return
		}
		c.mu.Lock()
		ep.active++
		ep.MaxActive = max(ep.MaxActive, ep.active)
		c.mu.Unlock()
		start := time.Now()
		if e.cfg.CallTime > 0 && !e.sleep(r.Context(), e.cfg.CallTime) {
			// The client gave up while its call was being served.
			c.mu.Lock()
			ep.active--
			ep.InFlight--
			c.mu.Unlock()
			p.release(time.Since(start))
			return
		}
		defer func() {
			d := max(time.Since(start), time.Nanosecond)
			p.release(d)
			c.mu.Lock()
			ep.active--
			ep.InFlight--
			ep.Calls++
			ep.busyTime += d
			c.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// CapacityStats is what the emulator's capacity model reports: its pools, its
// sync workers and every endpoint called so far.
type CapacityStats struct {
	Pools     map[string]PoolStats     `json:"pools"`
	Jobs      JobSlotStats             `json:"jobs"`
	Endpoints map[string]EndpointStats `json:"endpoints"`
}

// JobSlotStats reports the sync workers (Config.MaxSyncWorkers).
type JobSlotStats struct {
	// Workers is MaxSyncWorkers (0: unbounded).
	Workers int `json:"workers"`
	// Running jobs hold a worker; Waiting ones are due to run and wait for one.
	Running    int `json:"running"`
	MaxRunning int `json:"max_running"`
	Waiting    int `json:"waiting"`
	MaxWaiting int `json:"max_waiting"`
}

// Capacity returns the capacity counters, with job states advanced to the
// emulator's clock.
func (e *Emulator) Capacity() CapacityStats {
	out := CapacityStats{Pools: map[string]PoolStats{}, Endpoints: map[string]EndpointStats{}}
	for name, p := range e.capacity.pools {
		out.Pools[name] = p.stats()
	}
	e.capacity.mu.Lock()
	for route, ep := range e.capacity.endpoints {
		s := ep.EndpointStats
		s.BusySeconds = ep.busyTime.Seconds()
		out.Endpoints[route] = s
	}
	e.capacity.mu.Unlock()
	e.mu.Lock()
	e.advanceJobs(e.clock.Now())
	out.Jobs = JobSlotStats{Workers: max(e.cfg.MaxSyncWorkers, 0), Running: e.st.runningJobs, MaxRunning: e.st.maxRunningJobs,
		Waiting: e.st.waitingJobs, MaxWaiting: e.st.maxWaitingJobs}
	e.mu.Unlock()
	return out
}

// ResetCapacity zeroes the counters (calls, rejections, busy time) and brings
// the high-water marks down to what is in flight now, so that a benchmark can
// measure one phase.
func (e *Emulator) ResetCapacity() {
	for _, p := range e.capacity.pools {
		p.resetStats()
	}
	e.capacity.mu.Lock()
	for route, ep := range e.capacity.endpoints {
		if ep.InFlight == 0 {
			delete(e.capacity.endpoints, route)
			continue
		}
		ep.EndpointStats = EndpointStats{Pool: ep.Pool, InFlight: ep.InFlight, MaxInFlight: ep.InFlight, MaxActive: ep.active}
		ep.busyTime = 0
	}
	e.capacity.mu.Unlock()
	e.mu.Lock()
	e.advanceJobs(e.clock.Now())
	e.st.maxRunningJobs, e.st.maxWaitingJobs = e.st.runningJobs, e.st.waitingJobs
	e.mu.Unlock()
}

// routes returns the endpoint names in order (for stable metrics output).
func (s CapacityStats) routes() []string {
	out := make([]string, 0, len(s.Endpoints))
	for r := range s.Endpoints {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}
