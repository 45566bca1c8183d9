package airbyte

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Priority orders the calls that wait for a slot under an API's in-flight
// limit: a waiting call of a lower Priority value is admitted first, and
// calls of one Priority are admitted in the order they arrived.
type Priority uint8

// Priorities, first admitted first. [Client] assigns one to every call by
// its operation (see the package documentation).
const (
	// PriorityToken: POST /applications/token. Every other call of the
	// client waits for the token.
	PriorityToken Priority = iota
	// PriorityJobs: job reads and cancels (getJob, listJobs,
	// listJobsForWorkspaces, cancelJob, getJobInfo), so that following jobs
	// never waits behind onboardings.
	PriorityJobs
	// PriorityOther: every other call: job starts, reads and lists of
	// sources, destinations, connections and workspaces, patches, deletes.
	PriorityOther
	// PriorityBulk: calls that hold Airbyte's threads for long: discovers
	// (config sources/discover_schema, GET /streams, connection creates and
	// patches, which discover) and creates of sources and connections.
	PriorityBulk

	// NumPriorities is the number of priorities; AdmissionStats arrays are
	// indexed by Priority.
	NumPriorities = 4
)

var priorityNames = [NumPriorities]string{"token", "jobs", "other", "bulk"}

// String returns "token", "jobs", "other" or "bulk", for metric labels.
func (p Priority) String() string {
	if int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", p)
}

// priorityOf is the priority of a call, by its operation.
func priorityOf(r *request) Priority {
	switch {
	case r.op == opCreateAccessToken:
		return PriorityToken
	case r.discover:
		return PriorityBulk
	}
	switch r.op {
	case "getJob", "listJobs", "listJobsForWorkspaces", "cancelJob", "getJobInfo":
		return PriorityJobs
	case "createSource", "createDestination", "createConnection":
		return PriorityBulk
	}
	return PriorityOther
}

// ErrBusy: the call was not sent because the API's calls in flight were at
// their limit and a slot would not have freed before the call's deadline.
// The error is a *BusyError; [Classify] makes it RetryLater after the
// estimated wait, which [RetryAfter] also returns.
var ErrBusy = errors.New("airbyte: busy")

// BusyError is a call that admission control did not send: the calls in
// flight to its API were at their limit, and the wait for a slot would have
// outlasted the call's deadline (or did). Nothing reached Airbyte. It
// matches [ErrBusy] with errors.Is.
type BusyError struct {
	API      API
	Priority Priority
	// Limit is the API's in-flight limit when the call was refused, and
	// Ahead the number of calls that were waiting before it.
	Limit int
	Ahead int
	// RetryAfter is the estimated wait for a slot: when to try again.
	RetryAfter time.Duration
}

// Error returns e.g. `airbyte: busy: 4 public API calls in flight, 12 jobs
// calls waiting ahead; retry in 1.5s`.
func (e *BusyError) Error() string {
	return fmt.Sprintf("airbyte: busy: %d %s API calls in flight, %d %s calls waiting ahead; retry in %s",
		e.Limit, e.API, e.Ahead, e.Priority, e.RetryAfter)
}

// Is makes errors.Is(err, ErrBusy) work.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// AdmissionStats is a snapshot of one API's admission control.
type AdmissionStats struct {
	API API
	// Limit is the number of calls admitted at once now: Max, or less while
	// Airbyte shows overload. Max is the configured bound.
	Limit int
	Max   int
	// InFlight is the number of calls sent and not yet answered.
	InFlight int
	// Queued is the number of calls waiting for a slot, by Priority.
	Queued [NumPriorities]int
	// Rejected counts calls refused with a *BusyError, by Priority, since
	// the client was made.
	Rejected [NumPriorities]uint64
	// Decreases counts the times the limit was lowered.
	Decreases uint64
}

// AdmissionStats returns the state of admission control of each API that
// has it: the public API first, then the configuration API.
func (c *Client) AdmissionStats() []AdmissionStats {
	var out []AdmissionStats
	for _, a := range [...]*admission{c.publicAdmission, c.configAdmission} {
		if a != nil {
			out = append(out, a.stats())
		}
	}
	return out
}

// signal is what a finished attempt tells admission control.
type signal uint8

const (
	// signalIgnore: the attempt says nothing about Airbyte's load (the
	// caller gave up, the connection failed, a discover's own duration).
	signalIgnore signal = iota
	// signalOK: Airbyte answered; its latency is a sample.
	signalOK
	// signalDrop: Airbyte shed the attempt or did not answer in time (429,
	// 503, 504, attempt timeout).
	signalDrop
)

// Tuning of the adaptive limit. The limit is an AIMD congestion window over
// calls in flight, with a latency gradient as a second overload signal:
//
//   - Every answered attempt that was admitted while at least half the
//     limit was in use raises the limit by 1/limit, up to the configured
//     bound: about one slot more per round of calls while Airbyte keeps up.
//   - A 429, 503 or 504 answer, or an attempt timeout, halves it.
//   - A short-term latency average (about the last 5 answers of one
//     priority) above twice the long-term one (about the last 50) and at
//     least latencySlack above it lowers it by 10%.
//     While latency stays that high the limit keeps coming down, round
//     after round, and does not grow; once the long-term average has
//     caught up with a lasting change, the limit grows again.
//   - One decrease per round: a signal from an attempt admitted before the
//     last decrease is ignored, as the decrease already answered it.
//
// The limit never falls below one call in flight.
const (
	dropBackoff      = 0.5
	latencyBackoff   = 0.9
	latencyTolerance = 2.0
	latencySlack     = 100 * time.Millisecond
	latencyWarmup    = 10
	shortAlpha       = 0.2
	longAlpha        = 0.02
	holdAlpha        = 0.1
)

// admission bounds the calls in flight to one Airbyte API and admits the
// waiting calls by priority, first in first out within a priority.
type admission struct {
	api      API
	max      float64
	minRetry time.Duration // shortest RetryAfter of a BusyError
	now      func() time.Time

	mu        sync.Mutex
	limit     float64 // in [1, max]
	inFlight  int
	round     uint64 // incremented by every decrease
	decreases uint64
	queues    [NumPriorities]waitQueue
	rejected  [NumPriorities]uint64
	latency   [NumPriorities]latencyStat
	hold      float64 // EWMA of the seconds a slot is held; 0: no sample yet
}

func newAdmission(api API, maxInFlight int, minRetry time.Duration) *admission {
	return &admission{api: api, max: float64(maxInFlight), limit: float64(maxInFlight), minRetry: minRetry, now: time.Now}
}

// ticket is an admitted call's slot.
type ticket struct {
	start    time.Time
	round    uint64
	inFlight int // calls in flight once this one was admitted
	prio     Priority
}

// waiter is a call waiting for a slot.
type waiter struct {
	prio       Priority
	ready      chan struct{} // closed when admitted
	admitted   bool
	t          ticket
	prev, next *waiter
}

// waitQueue is a FIFO of waiters with removal from the middle.
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) push(w *waiter) {
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
	q.n--
}

// latencyStat keeps a short- and a long-term average of one priority's
// answer latency, in seconds.
type latencyStat struct {
	short, long float64
	n           int
}

// add records a sample and reports whether latency is elevated.
func (s *latencyStat) add(d time.Duration) bool {
	x := d.Seconds()
	if s.n == 0 {
		s.short, s.long = x, x
	} else {
		s.short += shortAlpha * (x - s.short)
		s.long += longAlpha * (x - s.long)
	}
	s.n++
	return s.n > latencyWarmup && s.short > latencyTolerance*s.long && s.short-s.long > latencySlack.Seconds()
}

// slots is the number of calls admitted at once.
func (a *admission) slots() int { return max(1, int(a.limit)) }

// ahead counts the waiters admitted before a new call of priority p.
func (a *admission) ahead(p Priority) int {
	n := 0
	for i := range p + 1 {
		n += a.queues[i].n
	}
	return n
}

// admit takes a slot. a.mu is held.
func (a *admission) admit(p Priority, now time.Time) ticket {
	a.inFlight++
	return ticket{start: now, round: a.round, inFlight: a.inFlight, prio: p}
}

// estimate is the expected wait for a slot behind ahead waiters. a.mu is held.
func (a *admission) estimate(ahead int) time.Duration {
	return time.Duration(float64(ahead+1) * a.hold / float64(a.slots()) * float64(time.Second))
}

func (a *admission) busy(p Priority, ahead int) *BusyError {
	a.rejected[p]++
	return &BusyError{API: a.api, Priority: p, Limit: a.slots(), Ahead: ahead, RetryAfter: max(a.minRetry, a.estimate(ahead))}
}

// acquire waits for a slot for a call of priority p. It returns a
// *BusyError at once when the expected wait outlasts ctx's deadline, or when
// the deadline passes while waiting, and ctx's error when ctx is cancelled.
func (a *admission) acquire(ctx context.Context, p Priority) (ticket, error) {
	now := a.now()
	a.mu.Lock()
	ahead := a.ahead(p)
	if ahead == 0 && a.inFlight < a.slots() {
		t := a.admit(p, now)
		a.mu.Unlock()
		return t, nil
	}
	if err := ctx.Err(); err != nil {
		a.mu.Unlock()
		return ticket{}, err
	}
	if dl, ok := ctx.Deadline(); ok && a.estimate(ahead) > dl.Sub(now) {
		err := a.busy(p, ahead)
		a.mu.Unlock()
		return ticket{}, err
	}
	w := &waiter{prio: p, ready: make(chan struct{})}
	a.queues[p].push(w)
	a.mu.Unlock()

	select {
	case <-w.ready:
		return w.t, nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	if w.admitted {
		// Admitted as ctx ended: hand the slot on unused.
		a.mu.Unlock()
		a.release(w.t, signalIgnore)
	} else {
		a.queues[p].remove(w)
		a.mu.Unlock()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		a.mu.Lock()
		err := a.busy(p, ahead)
		a.mu.Unlock()
		return ticket{}, err
	}
	return ticket{}, ctx.Err()
}

// release frees t's slot, adapts the limit to what the attempt showed, and
// admits the next waiters.
func (a *admission) release(t ticket, s signal) {
	now := a.now()
	held := now.Sub(t.start)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	if s != signalIgnore {
		if a.hold == 0 {
			a.hold = held.Seconds()
		} else {
			a.hold += holdAlpha * (held.Seconds() - a.hold)
		}
	}
	switch s {
	case signalDrop:
		a.decrease(t, dropBackoff)
	case signalOK:
		if t.prio != PriorityBulk && a.latency[t.prio].add(held) {
			a.decrease(t, latencyBackoff)
		} else if t.round == a.round && 2*t.inFlight >= a.slots() {
			a.limit = min(a.max, a.limit+1/a.limit)
		}
	}
	a.dispatch(now)
}

// decrease lowers the limit by factor, once per round. a.mu is held.
func (a *admission) decrease(t ticket, factor float64) {
	if t.round != a.round {
		return
	}
	a.limit = max(1, a.limit*factor)
	a.round++
	a.decreases++
}

// dispatch admits waiters, highest priority first, while slots are free.
// a.mu is held.
func (a *admission) dispatch(now time.Time) {
	for a.inFlight < a.slots() {
		var w *waiter
		for i := range a.queues {
			if w = a.queues[i].head; w != nil {
				a.queues[i].remove(w)
				break
			}
		}
		if w == nil {
			return
		}
		w.admitted = true
		w.t = a.admit(w.prio, now)
		close(w.ready)
	}
}

func (a *admission) stats() AdmissionStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := AdmissionStats{
		API: a.api, Limit: a.slots(), Max: int(math.Round(a.max)), InFlight: a.inFlight,
		Rejected: a.rejected, Decreases: a.decreases,
	}
	for i := range a.queues {
		s.Queued[i] = a.queues[i].n
	}
	return s
}
