package syncer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/aam-mesh/aam/events"
	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/bus"
	"github.com/aam-mesh/aam/pkg/observability"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// Source is the CloudEvent source of the sync worker's facts.
const Source = "/aam/sync"

// Consumer is the durable consumer name of sync requests.
const Consumer = "sync"

// Worker handles sync requests and follows their jobs.
type Worker struct {
	deps  *app.Deps
	store *registry.Store
	ab    *airbyte.Client
	cfg   Config
	log   *zap.Logger
	m     *metrics
	// orphans marks connections Airbyte does not know.
	orphans app.Orphans

	// starts wakes this process's requests waiting for a connection's start
	// claim when the local holder is done.
	starts startSignals
	// abClock is the latest instant of Airbyte's clock seen in its answers.
	abClock airbyteClock
	// lastList is the follower's job list, kept up to date across rounds;
	// listRefusals counts the lists Airbyte refused (listRefused).
	lastList     *jobList
	listRefusals atomic.Int64
	// ws are the workspaces job lists ask for when none is configured.
	wsMu sync.Mutex
	ws   []string
	// minPages is the least number of pages a job list may read
	// (minListPages; tests lower it).
	minPages int
	// quick decides whether a job just started is read once more.
	quick quickStarts

	// wake tells the follower that a job is due at wakeAt.
	wake   chan struct{}
	wakeMu sync.Mutex
	wakeAt time.Time

	// beforeStart and afterStart, when set, run just before POST /jobs and
	// once Airbyte has answered it, before anything is recorded; tests use
	// them to hold or crash a delivery there.
	beforeStart func(ctx context.Context) error
	afterStart  func(ctx context.Context, job *airbyte.Job) error
	// onDuplicateInFlight, when set, runs when a copy of a request in
	// progress is put off.
	onDuplicateInFlight func()
	// beforeTurn, when set, runs before a request takes its turn to start
	// a job; afterRound after each follow round that checked jobs.
	beforeTurn func(ctx context.Context)
	afterRound func(checked int)
}

// New returns a sync worker on deps' registry and bus, calling Airbyte
// through ab.
func New(deps *app.Deps, ab *airbyte.Client, cfg Config) (*Worker, error) {
	log, err := app.CheckWorker(Consumer, deps, ab, &cfg)
	if err != nil {
		return nil, err
	}
	return &Worker{
		deps: deps, store: deps.Store, ab: ab, cfg: cfg,
		log:      log,
		m:        newMetrics(deps.Metrics),
		orphans:  app.Orphans{Store: deps.Store, Airbyte: ab, Log: log, Source: Source},
		wake:     make(chan struct{}, 1),
		minPages: minListPages,
	}, nil
}

// Run consumes sync requests and follows jobs until ctx is cancelled.
func (w *Worker) Run(ctx context.Context) error {
	return app.Run(ctx, app.Consume(w.deps.Runtime(Source), w.Route()),
		app.Consume(w.deps.Runtime(Source), w.ReleaseRoute()), w.follow)
}

// Route is the worker's route on the sync request subject.
func (w *Worker) Route() bus.Route[events.SyncRequested] {
	r := app.RequestRoute(Consumer, events.TypeSyncRequested, w.handle, w.fail, w.cfg.Delivery, w.cfg.HandlerTimeout)
	// The intent (keyed by request) and the inbox insert of the record
	// transaction recognise a re-published request id, so first deliveries
	// skip the ledger read.
	r.OutcomeCheck = bus.CheckRedeliveries
	return r
}

// handle starts (or finds, or attaches to) the request's job and records it.
func (w *Worker) handle(ctx context.Context, ev bus.Event[events.SyncRequested]) error {
	connID := ev.Data.ConnectionID
	// A first delivery takes the connection's start claim with its intent
	// when no job answers it: the request that starts a job spends no
	// round trip on its turn.
	holder := ""
	if ev.Msg.NumDelivered <= 1 {
		holder = startHolder(ev)
	}
	in, err := w.store.SyncIntentBeginClaim(ctx, ev.Source, ev.ID, connID, w.arrivedBy(ev), holder, w.cfg.HandlerTimeout)
	if err != nil {
		return app.ConnectionError(connID, err)
	}
	switch in.Outcome {
	case registry.OutcomeDone:
		return nil // a copy of a request that was answered
	case registry.OutcomeFailed, registry.OutcomeRejected:
		return bus.Permanentf("request %s already ended: %s", ev.ID, in.Outcome)
	}
	if !in.Status.SyncStarts() {
		reason := fmt.Sprintf("connection %s is %s, not ACTIVE", connID, in.Status)
		if in.StatusReason != "" {
			reason += " (" + in.StatusReason + ")"
		}
		return bus.Permanent(errors.New(reason))
	}
	if in.AirbyteConnectionID == "" {
		return bus.Permanentf("connection %s has no Airbyte connection", connID)
	}

	if in.Deliveries > 1 && ev.Msg.NumDelivered <= 1 && time.Since(in.HandledAt) < w.cfg.HandlerTimeout {
		// The same request id in another message (published again after
		// JetStream's duplicate window), seen moments ago: its first copy
		// may be between POST /jobs and its commit. Come back when that
		// delivery has ended; the runtime then finds the request done.
		if w.onDuplicateInFlight != nil {
			w.onDuplicateInFlight()
		}
		return bus.RetryAfter(max(time.Second, w.cfg.HandlerTimeout/10),
			fmt.Errorf("request %s is being handled by another delivery", ev.ID))
	}

	if since, ok := w.earlierDelivery(ctx, ev, in); ok {
		// An earlier delivery may have started a job and died before
		// recording it: answer with that job rather than start another.
		job, err := w.jobStartedSince(ctx, connID, in.AirbyteConnectionID, since)
		if err != nil {
			if oerr := w.orphanCheck(ctx, ev, connID, in, err); oerr != nil {
				return oerr
			}
			return app.AirbyteOutcome(fmt.Errorf("look for the job of an earlier delivery: %w", err))
		}
		if job != nil {
			if w.afterStart != nil {
				if err := w.afterStart(ctx, job); err != nil {
					return err
				}
			}
			w.m.answers.WithLabelValues(answerRecovered).Inc()
			return w.record(ctx, ev, connID, in.CatalogVersion, w.observe(ctx, job), false, nil)
		}
	}
	return w.answer(ctx, ev, connID, in)
}

// How requests were answered (aam_sync_requests_answered_total).
const (
	answerStarted   = "started"   // the request started its job
	answerAttached  = "attached"  // joined a job the registry knew
	answerRunning   = "running"   // Airbyte reported a sync already running
	answerRecovered = "recovered" // the job an earlier delivery started
)

// answer links the request to the job that answers it: the connection's
// job the registry knows to be pending or running, or one whose start was
// claimed after the request was first seen, or else a job it starts. The
// requests of one connection take turns to start jobs (SyncStartTurn), so a
// burst of them costs one POST /jobs per job started, across every
// process.
func (w *Worker) answer(ctx context.Context, ev bus.Event[events.SyncRequested], connID string, in registry.SyncIntent) error {
	holder := startHolder(ev)
	if in.Claimed {
		return w.start(ctx, ev, connID, in, startClaim{holder: holder, at: in.ClaimedAt})
	}
	known := in.Job
	for {
		if known != nil {
			done, err := w.attach(ctx, ev, connID, in.RequestedAt, *known)
			if done || err != nil {
				return err
			}
		}
		if w.beforeTurn != nil {
			w.beforeTurn(ctx)
		}
		turn, err := w.takeTurn(ctx, connID, holder, in.RequestedAt)
		if err != nil {
			return err
		}
		if turn.Job != nil {
			known = turn.Job
			continue
		}
		return w.start(ctx, ev, connID, in, startClaim{holder: holder, at: turn.ClaimedAt})
	}
}

// startHolder is the holder of a connection's start claim taken for a
// request.
func startHolder(ev bus.Event[events.SyncRequested]) string { return ev.Source + " " + ev.ID }

// answers reports whether job answers a request first seen at firstSeen:
// it is pending or running, or its start was claimed after that.
func answers(job registry.Job, firstSeen time.Time) bool {
	return !job.Status.Terminal() || (job.StartRequestedAt != nil && !job.StartRequestedAt.Before(firstSeen))
}

// takeTurn waits until the request may start the connection's next job (it
// holds the start claim) or a job answers it. A holder in this process
// wakes its waiters when it is done; one in another process is polled for,
// at growing intervals up to 200 ms.
func (w *Worker) takeTurn(ctx context.Context, connID, holder string, firstSeen time.Time) (registry.SyncTurn, error) {
	delay := 5 * time.Millisecond
	for {
		wake := w.starts.wait(connID)
		turn, err := w.store.SyncStartTurn(ctx, connID, holder, firstSeen, w.cfg.HandlerTimeout)
		if registry.IsNotFound(err) {
			return turn, app.ConnectionError(connID, err)
		}
		if err != nil {
			return turn, fmt.Errorf("take the start turn of connection %s: %w", connID, err)
		}
		if turn.Job != nil || turn.Claimed {
			return turn, nil
		}
		// Not claimed: another holder has the turn, or the connection is no
		// longer to sync (a holder found it ORPHANED; it was paused,
		// quarantined or deleted): the request is refused as at its start.
		if !turn.Status.SyncWaits() {
			return turn, app.NotLive(registry.Connection{ID: connID, Status: turn.Status, StatusReason: turn.StatusReason})
		}
		t := time.NewTimer(delay)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return turn, ctx.Err()
		}
		t.Stop()
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// startClaim is a held start claim: its holder and when it was taken;
// dropped is set once a committed record of the job dropped it.
type startClaim struct {
	holder  string
	at      time.Time
	dropped bool
}

// start asks Airbyte for a job under the connection's start claim and
// records it; the claim is dropped when the job is recorded (in the same
// transaction) or when the start fails, and this process's waiters are
// woken.
func (w *Worker) start(ctx context.Context, ev bus.Event[events.SyncRequested], connID string, in registry.SyncIntent, claim startClaim) error {
	defer w.starts.notify(connID)
	defer func() {
		if claim.dropped {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.store.SyncStartRelease(rctx, connID, claim.holder); err != nil {
			w.log.Warn("start claim not released", zap.String("connection_id", connID), zap.Error(err))
		}
	}()
	if w.beforeStart != nil {
		if err := w.beforeStart(ctx); err != nil {
			return err
		}
	}
	job, started, err := w.ab.StartSyncOrGetRunning(ctx, in.AirbyteConnectionID)
	if err != nil {
		// A connection Airbyte does not know is marked before the claim is
		// released, so that no request waiting for the turn asks again.
		if oerr := w.orphanCheck(ctx, ev, connID, in, err); oerr != nil {
			return oerr
		}
		err = fmt.Errorf("start the sync: %w", err)
		if airbyte.Classify(err).Reason == airbyte.ReasonConflict {
			// A 409 other than "a sync is already running": Airbyte's
			// "Could not fulfill request" to a connection not active.
			err = fmt.Errorf("Airbyte refused to start a sync of an inactive connection: %w", err)
		}
		return app.AirbyteOutcome(err)
	}
	if w.afterStart != nil {
		if err := w.afterStart(ctx, job); err != nil {
			return err
		}
	}
	how := answerStarted
	if !started {
		how = answerRunning
		claim.at = time.Time{} // not started under the claim
	}
	w.m.answers.WithLabelValues(how).Inc()
	return w.record(ctx, ev, connID, in.CatalogVersion, w.observe(ctx, job), !started, &claim)
}

// orphanCheck marks the connection ORPHANED when err, the failure of an
// Airbyte call for the request, says Airbyte does not know it, and then
// returns the error that fails the request with the reason.
func (w *Worker) orphanCheck(ctx context.Context, ev bus.Event[events.SyncRequested], connID string, in registry.SyncIntent, err error) error {
	req := outbox.RequestOf(ev)
	return w.orphans.Check(ctx, app.Ref{ID: connID, AirbyteConnectionID: in.AirbyteConnectionID}, &req, err)
}

// errNotAnswered ends an attach whose job turned out not to answer the
// request.
var errNotAnswered = errors.New("the job does not answer the request")

// attach links the request to job, a job the registry holds, without any
// Airbyte call. It reports false when the job does not answer the request
// (it was recorded ended, and started before the request was first seen).
func (w *Worker) attach(ctx context.Context, ev bus.Event[events.SyncRequested], connID string, firstSeen time.Time, job registry.Job) (bool, error) {
	if !answers(job, firstSeen) {
		return false, nil
	}
	req := outbox.RequestOf(ev)
	p := registry.SyncLinkParams{
		ConnectionID: connID, AirbyteJobID: job.AirbyteJobID, Status: job.Status,
		StartedAt: job.StartedAt, CompletedAt: job.CompletedAt, RowsSynced: job.RowsSynced, BytesSynced: job.BytesSynced,
		ErrorMessage: job.ErrorMessage, NextCheckAt: job.NextCheckAt, FollowDeadline: job.FollowDeadline,
		AirbyteStatus: job.AirbyteStatus, SeenThrough: job.AirbyteSeenThrough, StartRequestedAt: job.StartRequestedAt,
		RequestSource: ev.Source, RequestID: ev.ID, RequestType: ev.Type, TraceParent: ev.TraceParent, Attached: true,
	}
	facts, err := jobFacts(job, req, true)
	if err != nil {
		return false, err
	}
	committed, err := w.store.SyncRecord(ctx, p, facts, registry.SyncWant{Job: &job})
	switch {
	case err != nil:
		return false, fmt.Errorf("attach to job %s: %w", job.AirbyteJobID, err)
	case committed:
		w.m.answers.WithLabelValues(answerAttached).Inc()
		return true, nil
	}
	// The job changed since it was read, or another delivery of the
	// request finished it: link under the locks, with facts from the
	// locked row.
	err = w.store.InTx(ctx, func(q *registry.Queries) error {
		res, err := q.SyncLink(ctx, p)
		if err != nil {
			return err
		}
		if !res.Done || !res.Linked {
			return app.ErrRecorded
		}
		if !answers(res.Job, firstSeen) {
			return errNotAnswered
		}
		facts, err := jobFacts(res.Job, req, true)
		if err != nil {
			return err
		}
		err = q.OutboxQueue(ctx, facts...)
		return err
	})
	switch {
	case errors.Is(err, app.ErrRecorded):
		return true, nil
	case errors.Is(err, errNotAnswered):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("attach to job %s: %w", job.AirbyteJobID, err)
	}
	w.m.answers.WithLabelValues(answerAttached).Inc()
	return true, nil
}

// arrivedBy is an instant of the registry's clock by which the request had
// certainly arrived: its arrival in the stream (the NATS server's clock)
// plus the skew allowed between the two clocks, or zero when the arrival is
// unknown. A request that waited in the stream longer than the skew counts
// as first seen then, not when a worker took it: a job whose start was
// claimed while it waited began after the request and answers it.
func (w *Worker) arrivedBy(ev bus.Event[events.SyncRequested]) time.Time {
	if ev.Msg.Arrived.IsZero() {
		return time.Time{}
	}
	return ev.Msg.Arrived.Add(w.cfg.StreamClockSkew)
}

// earlierDelivery reports whether an earlier delivery of the request may
// have started a job, and since when. The intent says so when it was
// recorded before; a redelivered message whose intent is new (its earlier
// delivery died before recording it, or a database crash lost it) counts
// from the request's arrival in the stream.
func (w *Worker) earlierDelivery(ctx context.Context, ev bus.Event[events.SyncRequested], in registry.SyncIntent) (time.Time, bool) {
	switch {
	case in.Deliveries > 1:
		return in.RequestedAt, true
	case ev.Msg.NumDelivered <= 1:
		return time.Time{}, false
	}
	if !ev.Msg.Arrived.IsZero() {
		return ev.Msg.Arrived, true
	}
	if !ev.Time.IsZero() && ev.Time.Before(in.RequestedAt) {
		return ev.Time, true
	}
	return in.RequestedAt, true
}

// jobStartedSince returns the job that answers a request first seen at
// since, or nil: the connection's first sync job that Airbyte created at or
// after since (less the clock skew) and that no other request had recorded,
// or claimed the start of, before since. Such jobs cannot be the one its
// earlier delivery started: that one was claimed after the request's
// intent.
func (w *Worker) jobStartedSince(ctx context.Context, connID, abConnID string, since time.Time) (*airbyte.Job, error) {
	page, err := w.ab.ListJobs(ctx, airbyte.JobListParams{
		ConnectionID: abConnID, JobType: airbyte.JobTypeSync,
		CreatedAtStart: since.Add(-w.cfg.ClockSkew).Truncate(time.Second),
		OrderBy:        "createdAt|ASC", Limit: 100,
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(page.Data))
	for _, j := range page.Data {
		ids = append(ids, strconv.FormatInt(j.JobID, 10))
	}
	older, err := w.store.JobsOfEarlierRequests(ctx, connID, ids, since)
	if err != nil {
		return nil, err
	}
	for i, j := range page.Data {
		if (j.ConnectionID == "" || j.ConnectionID == abConnID) && !older[ids[i]] {
			return &j, nil
		}
	}
	return nil, nil
}

// observation is a job's state as the worker saw it.
type observation struct {
	jobID       string
	status      registry.JobStatus
	startedAt   *time.Time
	completedAt *time.Time
	rows, bytes int64
	reason      string
	// failure is why a failed job failed.
	failure registry.JobFailure
	// airbyteStatus is Airbyte's status verbatim; seenThrough the instant
	// (Airbyte's clock) the observation holds for, nil when unknown.
	airbyteStatus string
	seenThrough   *time.Time
	// streams is what each stream of a succeeded job moved, nil when
	// unknown.
	streams []registry.StreamStat
}

func (o observation) terminal() bool { return o.status.Terminal() }

// jobStatus maps Airbyte's job status: pending and queued wait, running and
// incomplete (an attempt failed, another follows) run, and the rest ended.
// A status the client does not know counts as running.
func jobStatus(s airbyte.JobStatus) registry.JobStatus {
	switch s {
	case airbyte.JobStatusPending, airbyte.JobStatusQueued:
		return registry.JobPending
	case airbyte.JobStatusSucceeded:
		return registry.JobSucceeded
	case airbyte.JobStatusFailed:
		return registry.JobFailed
	case airbyte.JobStatusCancelled:
		return registry.JobCancelled
	}
	return registry.JobRunning
}

// observe reads a job that is not terminal yet once more while jobs end
// quickly (quickStarts), so that a quick job is recorded with its outcome
// and never followed, and fetches the failure reason of a job that failed
// or was cancelled. The read is the configuration API's jobs/get, whose
// answer holds the public job (JobRead.Public) as well as the failure
// reason and the stream stats, so a quick job costs one read, not two.
// Read failures are not the request's: the job is then recorded as last
// seen and followed.
func (w *Worker) observe(ctx context.Context, job *airbyte.Job) observation {
	if !job.Status.IsTerminal() && w.quick.reread() {
		info, err := w.ab.ConfigAPI().GetJob(ctx, job.JobID)
		if err == nil {
			got := info.Job.Public()
			w.quick.saw(got.Status.IsTerminal())
			return w.describeInfo(ctx, &got, info)
		}
		w.log.Debug("job not read after start", zap.Int64("airbyte_job_id", job.JobID), zap.Error(err))
	}
	return w.describe(ctx, job)
}

// quickStarts tells whether reading a job just after its start pays: while
// the reads find jobs ended (an Airbyte that runs them at once, as the
// emulator's instant mode does), each read saves following the job; once
// quickMisses reads in a row found the job still pending or running (jobs
// take seconds or more, as in every real Airbyte), the read would be a
// wasted call per job, and only one start in quickProbe is read, to notice
// when jobs become quick again. The follower's job list reports the others.
type quickStarts struct {
	misses atomic.Int32
	starts atomic.Uint32
}

const (
	quickMisses = 3
	quickProbe  = 256
)

func (q *quickStarts) reread() bool {
	return q.misses.Load() < quickMisses || q.starts.Add(1)%quickProbe == 0
}

func (q *quickStarts) saw(ended bool) {
	switch {
	case ended:
		q.misses.Store(0)
	case q.misses.Load() < quickMisses:
		q.misses.Add(1)
	}
}

// describe turns a job answer into an observation, asking the
// configuration API for the failure reason of a failed or cancelled job
// (when that fails the job is described as still running, so that the
// follower asks again) and for the per-stream stats of a succeeded one
// (when that fails the success is recorded without them).
func (w *Worker) describe(ctx context.Context, job *airbyte.Job) observation {
	return w.describeInfo(ctx, job, nil)
}

// describeInfo is describe with the configuration API's answer for the job
// already read (info), or nil to read it when the job is terminal.
func (w *Worker) describeInfo(ctx context.Context, job *airbyte.Job, info *airbyte.JobInfoRead) observation {
	o := observation{jobID: strconv.FormatInt(job.JobID, 10), status: jobStatus(job.Status),
		rows: job.RowsSynced, bytes: job.BytesSynced, airbyteStatus: string(job.Status)}
	if t, err := job.StartTime.Time(); err == nil && !t.IsZero() {
		o.startedAt = &t
	}
	if t, ok := updatedAt(job); ok {
		w.abClock.saw(t)
		o.seenThrough = &t
	}
	if !job.Status.Known() {
		w.log.Debug("job status unknown to this version, followed as running",
			zap.Int64("airbyte_job_id", job.JobID), zap.String("airbyte_status", string(job.Status)))
	}
	if !o.terminal() {
		return o
	}
	end, err := job.LastUpdatedAt.Time()
	if err != nil || end.IsZero() {
		end = time.Now().UTC()
		if d, derr := job.Duration.Duration(); derr == nil && d > 0 && o.startedAt != nil {
			end = o.startedAt.Add(d)
		}
	}
	o.completedAt = &end
	err = nil
	if info == nil {
		info, err = w.ab.ConfigAPI().GetJob(ctx, job.JobID)
	}
	if o.status == registry.JobSucceeded {
		if err != nil {
			w.log.Warn("stream stats not read", zap.Int64("airbyte_job_id", job.JobID), zap.Error(err))
			return o
		}
		o.streams = streamStats(info)
		return o
	}
	if err != nil {
		w.log.Debug("failure reason not read", zap.Int64("airbyte_job_id", job.JobID), zap.Error(err))
		// Seen through an earlier instant, so that the end is listed again.
		o.status, o.completedAt, o.seenThrough = registry.JobRunning, nil, nil
		return o
	}
	o.reason = info.FailureMessage()
	if o.status == registry.JobFailed {
		o.failure = jobFailure(info)
	}
	if o.reason == "" {
		if o.status == registry.JobFailed {
			o.reason = fmt.Sprintf("Airbyte job %d failed without a reason", job.JobID)
		} else {
			o.reason = fmt.Sprintf("Airbyte job %d was cancelled", job.JobID)
		}
	}
	return o
}

// record links the request to its job and emits sync.started, and the
// terminal fact when the job already ended, in one transaction. The usual
// case (a new job, the catalog version read before the start) takes one
// round trip, its commit included, or two for a job that already ended
// (the link with the reads of the health and volume judgement, then the
// facts with the commit); anything else is handled by record's general
// path.
func (w *Worker) record(ctx context.Context, ev bus.Event[events.SyncRequested], connID string, version int, obs observation, attached bool, claim *startClaim) error {
	req := outbox.RequestOf(ev)
	p := registry.SyncLinkParams{
		ConnectionID: connID, AirbyteJobID: obs.jobID, Status: obs.status,
		StartedAt: obs.startedAt, CompletedAt: obs.completedAt, RowsSynced: obs.rows, BytesSynced: obs.bytes,
		ErrorMessage: obs.reason, AirbyteStatus: obs.airbyteStatus, SeenThrough: obs.seenThrough, Failure: obs.failure,
		RequestSource: ev.Source, RequestID: ev.ID, RequestType: ev.Type,
		TraceParent: ev.TraceParent, Attached: attached,
	}
	var startRequestedAt *time.Time
	if claim != nil {
		p.StartHolder = claim.holder
		if !claim.at.IsZero() {
			startRequestedAt = &claim.at
			p.StartRequestedAt = startRequestedAt
		}
	}
	now := time.Now()
	next := now.Add(w.cfg.PollInterval)
	if !obs.terminal() {
		deadline := now.Add(w.cfg.FollowTimeout)
		p.NextCheckAt, p.FollowDeadline = &next, &deadline
	}

	// The row this request will most likely create, and its facts.
	p.JobID = registry.NewID()
	predicted := registry.Job{ID: p.JobID, ConnectionID: connID, AirbyteJobID: obs.jobID, Status: obs.status,
		CatalogVersion: version, StartedAt: obs.startedAt, CompletedAt: obs.completedAt,
		RowsSynced: obs.rows, BytesSynced: obs.bytes, ErrorMessage: obs.reason, CreatedAt: now, UpdatedAt: now,
		StartRequestedAt: startRequestedAt, FailureClass: obs.failure.Class, FailureType: obs.failure.Type,
		FailureOrigin: obs.failure.Origin}
	facts, err := jobFacts(predicted, req, attached)
	if err != nil {
		return err
	}
	want := registry.SyncWant{Created: true, CatalogVersion: version}
	if obs.terminal() {
		// A job that ended before it was recorded: its end counts in the
		// connection's health, in the same transaction, whose first round
		// trip carries the checked link.
		want.Then = func(q *registry.Queries) error { return recordHealth(ctx, q, predicted, obs.streams, req.ID) }
	}
	committed, err := w.store.SyncRecord(ctx, p, facts, want)
	switch {
	case err != nil:
		return fmt.Errorf("record job %s: %w", obs.jobID, err)
	case committed:
		if claim != nil {
			claim.dropped = true
		}
		if obs.terminal() {
			w.m.finished.WithLabelValues(string(obs.status)).Inc()
		} else {
			w.wakeFollowerAt(next)
		}
		return nil
	}
	// Recorded already (for another request), at another catalog version,
	// or finished by another delivery of the request.
	return w.recordGeneral(ctx, p, req, obs, next, claim)
}

// jobFacts are sync.started and, for an ended job, its terminal fact.
func jobFacts(job registry.Job, req outbox.Request, attached bool) ([]registry.OutboxRow, error) {
	started, err := startedFact(job, req, attached)
	if err != nil || !job.Status.Terminal() {
		return []registry.OutboxRow{started}, err
	}
	finished, err := finishedFact(job, req)
	return []registry.OutboxRow{started, finished}, err
}

// recordGeneral is record for a job that ended, a job already recorded
// (for another request), or a catalog version that changed since the
// start. The start claim, when there is one, is dropped in its
// transaction (claim.dropped is set once it committed).
func (w *Worker) recordGeneral(ctx context.Context, p registry.SyncLinkParams, req outbox.Request, obs observation, next time.Time, claim *startClaim) error {
	follow := false
	var finished *registry.Job
	err := w.store.InTx(ctx, func(q *registry.Queries) error {
		res, err := q.SyncLink(ctx, p)
		if err != nil {
			return err
		}
		if !res.Done || !res.Linked {
			return app.ErrRecorded
		}
		job := res.Job
		started, err := startedFact(job, req, res.Attached)
		if err != nil {
			return err
		}
		facts := []registry.OutboxRow{started}
		switch {
		case job.Status.Terminal():
			// Recorded ended: by this call, or by whoever saw it end first.
			f, err := finishedFact(job, req)
			if err != nil {
				return err
			}
			facts = append(facts, f)
			if res.JobCreated {
				finished = &job
				if err := recordHealth(ctx, q, job, obs.streams, req.ID); err != nil {
					return err
				}
			}
		case obs.terminal():
			// Recorded running for other requests, and seen ended here:
			// end it for all of them, this one included.
			if err := q.OutboxQueue(ctx, facts...); err != nil {
				return err
			}
			done, err := w.finishLocked(ctx, q, job, obs)
			if done != nil {
				finished = done
			}
			return err
		default:
			follow = true
		}
		err = q.OutboxQueue(ctx, facts...)
		return err
	})
	if errors.Is(err, app.ErrRecorded) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record job %s: %w", obs.jobID, err)
	}
	if claim != nil {
		claim.dropped = true
	}
	if finished != nil {
		w.m.finished.WithLabelValues(string(finished.Status)).Inc()
	}
	if follow {
		w.wakeFollowerAt(next)
	}
	return nil
}

// fail ends a request that cannot succeed: inbox failed and sync.failed
// with the reason, once.
func (w *Worker) fail(ctx context.Context, ev bus.Event[events.SyncRequested], cause error) error {
	connID := ev.Data.ConnectionID
	reason := cause.Error()
	return w.store.InTx(ctx, func(q *registry.Queries) error {
		if _, err := q.ConnectionGetForUpdate(ctx, connID); err != nil && !registry.IsNotFound(err) {
			return err
		}
		inserted, err := q.InboxInsert(ctx, registry.InboxEntry{Source: ev.Source, ID: ev.ID, Type: ev.Type,
			Outcome: registry.OutcomeFailed, Reason: reason})
		if err != nil || !inserted {
			return err
		}
		return outbox.Emit(ctx, q, events.TypeSyncFailed, Source, connID, outbox.RequestOf(ev),
			events.SyncFinished{ConnectionID: connID, Status: events.JobFailed, ErrorMessage: reason})
	})
}

// startedFact is sync.started for a request linked to job.
func startedFact(job registry.Job, req outbox.Request, attached bool) (registry.OutboxRow, error) {
	msg := "Sync job started successfully"
	if attached {
		msg = "A sync was already running; the request is attached to job " + job.AirbyteJobID
	}
	startedAt := job.CreatedAt
	if job.StartedAt != nil {
		startedAt = *job.StartedAt
	}
	e, err := outbox.NewFact(events.TypeSyncStarted, Source, job.ConnectionID, req, events.SyncStarted{
		ConnectionID: job.ConnectionID, JobID: job.AirbyteJobID, Status: "triggered", Message: msg,
		CatalogVersion: job.CatalogVersion, Attached: attached, StartedAt: startedAt.UTC(),
	})
	if err != nil {
		return registry.OutboxRow{}, err
	}
	return outbox.Encode(events.SubjectSyncStarted, e)
}

// finishedFact is the terminal fact of an ended job for one request.
func finishedFact(job registry.Job, req outbox.Request) (registry.OutboxRow, error) {
	var typ, subject string
	switch job.Status {
	case registry.JobSucceeded:
		typ, subject = events.TypeSyncSucceeded, events.SubjectSyncSucceeded
	case registry.JobFailed:
		typ, subject = events.TypeSyncFailed, events.SubjectSyncFailed
	case registry.JobCancelled:
		typ, subject = events.TypeSyncCancelled, events.SubjectSyncCancelled
	default:
		return registry.OutboxRow{}, fmt.Errorf("job %s is %s, not ended", job.ID, job.Status)
	}
	data := events.SyncFinished{
		ConnectionID: job.ConnectionID, JobID: job.AirbyteJobID, Status: string(job.Status),
		CatalogVersion: job.CatalogVersion, RowsSynced: job.RowsSynced, BytesSynced: job.BytesSynced,
		StartedAt: utc(job.StartedAt), CompletedAt: utc(job.CompletedAt), ErrorMessage: job.ErrorMessage,
		FailureClass: job.FailureClass, FailureType: job.FailureType, FailureOrigin: job.FailureOrigin,
	}
	if job.StartedAt != nil && job.CompletedAt != nil {
		data.DurationMS = max(0, job.CompletedAt.Sub(*job.StartedAt).Milliseconds())
	}
	e, err := outbox.NewFact(typ, Source, job.ConnectionID, req, data)
	if err != nil {
		return registry.OutboxRow{}, err
	}
	return outbox.Encode(subject, e)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type metrics struct {
	finished *prometheus.CounterVec
	checks   *prometheus.CounterVec
	answers  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_sync_jobs_finished_total", Help: "Sync jobs recorded as ended, by status."}, []string{"status"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_sync_job_checks_total", Help: "Polls of followed sync jobs, by outcome."}, []string{"outcome"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aam_sync_requests_answered_total",
			Help: "Sync requests linked to their job, by how: started, attached, running, recovered."}, []string{"how"}),
	}
	if reg != nil {
		m.finished, _ = observability.Register(reg, m.finished)
		m.checks, _ = observability.Register(reg, m.checks)
		m.answers, _ = observability.Register(reg, m.answers)
	}
	return m
}
