package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
	"github.com/aam-mesh/aam/services/internal/app"
)

// minIdle keeps a follower from spinning on due jobs it cannot claim
// (rows locked by a transaction that is about to end).
const minIdle = 10 * time.Millisecond

// wakeFollowerAt tells this process's follower that a job is due at t.
func (w *Worker) wakeFollowerAt(t time.Time) {
	w.wakeMu.Lock()
	if w.wakeAt.IsZero() || t.Before(w.wakeAt) {
		w.wakeAt = t
	}
	w.wakeMu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// takeWake returns and clears the earliest wake-up asked for.
func (w *Worker) takeWake() time.Time {
	w.wakeMu.Lock()
	defer w.wakeMu.Unlock()
	t := w.wakeAt
	w.wakeAt = time.Time{}
	return t
}

// follow polls due jobs until ctx is cancelled. The schedule lives in
// job_history (next_check_at, follow_deadline); a claim hides a job from
// other followers for the lease, so followers of several processes share
// the work without overlap and a restarted process carries on.
func (w *Worker) follow(ctx context.Context) error {
	w.log.Info("follower started", zap.Duration("poll_interval", w.cfg.PollInterval),
		zap.Duration("follow_timeout", w.cfg.FollowTimeout))
	lastPurge := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastPurge) > intentPurgeEvery {
			lastPurge = time.Now()
			if n, err := w.store.SyncIntentPurge(ctx, lastPurge.Add(-intentRetention)); err == nil && n > 0 {
				w.log.Debug("sync intents purged", zap.Int64("rows", n))
			}
		}
		n, err := w.followDue(ctx)
		if ctx.Err() != nil {
			break
		}
		w.finishQuarantines(ctx)
		if err != nil {
			w.log.Warn("follow round failed", zap.Error(err))
			w.sleep(ctx, time.Now().Add(w.cfg.PollInterval))
			continue
		}
		if n == w.cfg.FollowBatch {
			continue
		}
		w.sleep(ctx, w.nextRound(ctx, n))
	}
	w.log.Info("follower stopped")
	return nil
}

// Sync intents are kept for intentRetention after the request was first
// seen (the inbox answers copies after that), and purged every
// intentPurgeEvery.
const (
	intentRetention  = time.Hour
	intentPurgeEvery = 10 * time.Minute
)

// nextRound is when the next round is due: the earliest scheduled check,
// at most a poll interval away so that jobs other processes schedule are
// seen.
func (w *Worker) nextRound(ctx context.Context, claimed int) time.Time {
	now := time.Now()
	next := now.Add(w.cfg.PollInterval)
	if at, ok, err := w.store.JobNextCheckAt(ctx); err == nil && ok && at.Before(next) {
		next = at
	}
	if at := w.takeWake(); !at.IsZero() && at.Before(next) {
		next = at
	}
	if claimed == 0 && next.Before(now.Add(minIdle)) {
		next = now.Add(minIdle)
	}
	return next
}

// sleep waits until `until`, or earlier when a job is scheduled sooner.
func (w *Worker) sleep(ctx context.Context, until time.Time) {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-w.wake:
			if at := w.takeWake(); !at.IsZero() && at.Before(until) {
				until = at
				t.Reset(time.Until(until))
			}
		}
	}
}

// followDue claims due jobs (and those due within half a poll interval, so
// that rounds batch them) and checks them: Airbyte's job list answers for
// every job seen recently enough, one GET /jobs per 100 changed jobs, and
// only a job that dropped out of that window is read on its own.
func (w *Worker) followDue(ctx context.Context) (int, error) {
	now := time.Now()
	jobs, err := w.store.JobClaimDue(ctx, now.Add(w.cfg.PollInterval/2), w.cfg.FollowLease, w.cfg.FollowBatch)
	if err != nil {
		return 0, fmt.Errorf("claim due jobs: %w", err)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	answer := w.listChanges(ctx, jobs)
	sem := make(chan struct{}, w.cfg.FollowConcurrency)
	var wg sync.WaitGroup
	var unchecked []string
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			unchecked = append(unchecked, j.ID)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.check(ctx, j, answer(j))
		}()
	}
	wg.Wait()
	if w.afterRound != nil {
		w.afterRound(len(jobs))
	}
	if len(unchecked) > 0 {
		// Hand the claims back so that another follower takes them now.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.store.JobRelease(rctx, unchecked, time.Now()); err != nil {
			w.log.Warn("claims not released", zap.Error(err))
		}
	}
	return len(jobs), nil
}

// listed is what Airbyte's job list says about one followed job.
type listed struct {
	// ok reports that the list answers for the job; when it does not, the
	// job is read on its own.
	ok bool
	// job is the job as listed, nil when it did not change since it was
	// last seen.
	job *airbyte.Job
	// through is the instant (Airbyte's clock) the list holds for.
	through time.Time
	// err is the list's failure.
	err error
}

// listPage is the page size of job lists: the configuration API's own
// default for jobs/list_for_workspaces (JobHistoryHandler's
// DEFAULT_PAGE_SIZE), which sets no maximum; twice the public list's
// largest page, so that the ends of a poll interval and the second before
// it, relisted, take one page.
const listPage = 200

// listOverlap is how far before the instant a job was seen through the
// next list starts. The instants are Airbyte's own (its answers' times,
// rounded down to the second), so no allowance for AAM's clock is needed;
// the overlap covers Airbyte's servers' clocks differing a little.
const listOverlap = time.Second

// listChanges asks Airbyte's job list, once for the round, which jobs
// changed since the oldest instant through which a claimed job was seen
// (less a second): GET /jobs?workspaceIds=…&jobType=sync&
// updatedAtStart=…&orderBy=updatedAt|DESC, pages of 100. Newest changes
// come first, so a job that changes while the list is paged moves to a page
// already read and is seen in the next round. A job seen through an instant
// more than SYNC_FOLLOW_WINDOW before the newest one (nobody looked at it
// for long, or it was seen only before an upgrade) is left out and read on
// its own, and so is every job a list cut short (more than ten pages per
// hundred jobs) did not reach. The list is the follower's kept one,
// brought up to date once per poll interval (roundList).
func (w *Worker) listChanges(ctx context.Context, jobs []registry.Job) func(registry.Job) listed {
	newest := w.abClock.now()
	for _, j := range jobs {
		if j.AirbyteSeenThrough != nil && j.AirbyteSeenThrough.After(newest) {
			newest = *j.AirbyteSeenThrough
		}
	}
	inWindow := func(j registry.Job) bool {
		return j.AirbyteSeenThrough != nil && !j.AirbyteSeenThrough.Before(newest.Add(-w.cfg.FollowWindow))
	}
	var since time.Time
	n := 0
	for _, j := range jobs {
		if inWindow(j) {
			n++
			if since.IsZero() || j.AirbyteSeenThrough.Before(since) {
				since = *j.AirbyteSeenThrough
			}
		}
	}
	if n == 0 {
		return func(registry.Job) listed { return listed{} }
	}
	since = since.Add(-listOverlap).Truncate(time.Second)
	l := w.roundList(ctx, since, w.listSpec(ctx, n))
	return func(j registry.Job) listed {
		switch {
		case !inWindow(j):
			return listed{}
		case l.err != nil:
			return listed{ok: true, err: l.err}
		}
		if c, ok := l.changed[j.AirbyteJobID]; ok {
			if t, ok := updatedAt(c); !ok || !t.Before(*j.AirbyteSeenThrough) {
				return listed{ok: true, job: c, through: l.through}
			}
			// Listed before the job was last seen (read on its own since):
			// what was seen stands.
		}
		if !l.complete {
			return listed{}
		}
		return listed{ok: true, through: maxTime(l.through, *j.AirbyteSeenThrough)}
	}
}

// listRefused reports a job list Airbyte will refuse again: a route it
// does not serve (404), or a request it does not accept (400, 422), as an
// Airbyte older or newer than the one this follower knows may answer.
// Following does not stop for it: such a list is one cut short before its
// first page, so the round's jobs are read one by one.
func listRefused(err error) bool {
	return airbyte.IsNotFound(err) || airbyte.IsValidation(err)
}

// listSpec is what a job list asks for.
type listSpec struct {
	// pages is how many pages it may read.
	pages int
	// running asks for running jobs as well as ended ones.
	running bool
}

// listSpec sizes a job list by the jobs followed by every follower of the
// registry (the list holds each of them once, whichever batch of due jobs
// asks for it); batch, the jobs of the batch the list answers, stands in
// when the count cannot be read. The list may read ten pages per page of
// jobs followed, and at least minPages; it asks for running jobs while
// fewer than half a page of jobs are followed (listJobs).
func (w *Worker) listSpec(ctx context.Context, batch int) listSpec {
	n, err := w.store.JobFollowedCount(ctx)
	if err != nil {
		w.log.Debug("followed jobs not counted", zap.Error(err))
		n = batch
	}
	n = max(n, batch)
	return listSpec{pages: max(w.minPages, 10*((n+listPage-1)/listPage)), running: n < listPage/2}
}

// minListPages is the least number of pages a job list may read.
const minListPages = 10

// maxKept bounds the jobs a follower's merged job list holds; a list that
// would hold more starts afresh.
const maxKept = 5000

// roundList is the job list that answers a round whose jobs were all seen
// through since or later. The follower keeps one list for all its rounds:
// within a poll interval of the last list it answers as it is; after that it
// is brought up to date by a list of what changed since the instant it
// holds for (less the overlap), merged in, so that every round, however
// many batches of due jobs it takes and whenever each was last seen, costs
// one list of the changes of one poll interval. A list asked for an
// earlier instant than the kept one starts, or one that would hold more
// than maxKept jobs, is read afresh from since.
func (w *Worker) roundList(ctx context.Context, since time.Time, spec listSpec) *jobList {
	l := w.lastList
	usable := l != nil && l.complete && !l.since.After(since)
	switch {
	case usable && time.Since(l.at) < w.cfg.PollInterval:
		return l
	case usable && len(l.changed) < maxKept && !l.since.Before(l.through.Add(-w.cfg.FollowWindow)):
		next := w.listJobs(ctx, l.through.Add(-listOverlap).Truncate(time.Second), spec)
		if next.err != nil || !next.complete {
			// Kept out of the follower's list: the round reads on their own
			// the jobs an incomplete list did not reach.
			return next
		}
		w.lastList = l.merge(next)
		return w.lastList
	}
	l = w.listJobs(ctx, since, spec)
	if l.err == nil {
		w.lastList = l
	}
	return l
}

// merge returns the list of what changed since l.since through next's
// instant: next's jobs, and l's that next does not hold.
func (l *jobList) merge(next *jobList) *jobList {
	for id, j := range l.changed {
		if _, ok := next.changed[id]; !ok {
			next.changed[id] = j
		}
	}
	next.since = l.since
	return next
}

// jobList is one list of the jobs that changed since an instant.
type jobList struct {
	at       time.Time // AAM's clock, when it was asked for
	since    time.Time // Airbyte's clock, the list's start
	through  time.Time // Airbyte's clock, the instant it holds for
	changed  map[string]*airbyte.Job
	complete bool
	err      error
}

// listJobs lists the sync jobs that changed since `since`, newest change
// first, reading at most spec.pages pages. The list is the configuration
// API's jobs/list_for_workspaces (what the public GET /jobs is a façade
// over), which, unlike the public list, filters by several statuses: it
// asks only for the statuses a followed job may move to, never pending (a
// followed job was started by AAM and recorded pending), so that a job AAM
// started shows in lists only when it runs and when it ends. While half a
// page of jobs or more is followed (spec.running false) it asks for ended
// jobs only: each job then shows once, at its end, and a running job stays
// recorded pending until then (its status is Airbyte's once it ends, or
// when it is read on its own).
func (w *Worker) listJobs(ctx context.Context, since time.Time, spec listSpec) *jobList {
	l := &jobList{at: time.Now(), since: since, through: w.abClock.now(), changed: map[string]*airbyte.Job{}}
	ws, err := w.workspaces(ctx)
	if err != nil {
		l.err = err
		return l
	}
	statuses := endedStatuses
	if spec.running {
		statuses = movedStatuses
	}
	for page := 0; page < spec.pages; page++ {
		p, err := w.ab.ConfigAPI().ListJobsForWorkspaces(ctx, airbyte.JobListForWorkspacesRequest{
			ConfigTypes: []airbyte.JobConfigType{airbyte.JobConfigSync}, WorkspaceIDs: ws, Statuses: statuses,
			UpdatedAtStart: &since, OrderByField: "updatedAt", OrderByMethod: "DESC",
			Pagination: &airbyte.Pagination{PageSize: listPage, RowOffset: page * listPage},
		})
		if err != nil && listRefused(err) {
			if w.listRefusals.Add(1) == 1 {
				w.log.Warn("Airbyte refuses the job list; jobs are read one by one", zap.Error(err))
			}
			return l // incomplete
		}
		if err != nil {
			l.err = err
			return l
		}
		for i := range p.Jobs {
			j := p.Jobs[i].Job.Public()
			id := strconv.FormatInt(j.JobID, 10)
			if _, dup := l.changed[id]; !dup {
				l.changed[id] = &j
			}
			if t, ok := updatedAt(&j); ok && t.After(l.through) {
				l.through = t
			}
		}
		if len(p.Jobs) < listPage {
			l.complete = true
			break
		}
	}
	w.abClock.saw(l.through)
	return l
}

// endedStatuses are the statuses a busy follower lists; movedStatuses add
// those of a job that runs (incomplete: an attempt failed, another
// follows).
var (
	endedStatuses = []airbyte.JobStatus{airbyte.JobStatusSucceeded, airbyte.JobStatusFailed, airbyte.JobStatusCancelled}
	movedStatuses = append(slices.Clone(endedStatuses), airbyte.JobStatusRunning, airbyte.JobStatusIncomplete)
)

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// workspaces are the workspaces job lists ask for: AAM's Airbyte
// workspace, or when none is configured every workspace the credentials
// may see, read once (Airbyte's job list lists nothing for none).
func (w *Worker) workspaces(ctx context.Context) ([]string, error) {
	if w.cfg.WorkspaceID != "" {
		return []string{w.cfg.WorkspaceID}, nil
	}
	w.wsMu.Lock()
	defer w.wsMu.Unlock()
	if w.ws != nil {
		return w.ws, nil
	}
	var ids []string
	for ws, err := range w.ab.Workspaces(ctx, airbyte.ListParams{}) {
		if err != nil {
			return nil, fmt.Errorf("list workspaces: %w", err)
		}
		ids = append(ids, ws.WorkspaceID)
	}
	if len(ids) == 0 {
		return nil, errors.New("list workspaces: the credentials see no Airbyte workspace")
	}
	w.ws = ids
	return ids, nil
}

// check records what is known of one claimed job: progress and the next
// check, or the end of the job and its facts. What the round's job list
// says is used when it answers for the job; otherwise the job is read. A
// job past its follow deadline is cancelled.
func (w *Worker) check(ctx context.Context, j registry.Job, l listed) {
	log := w.log.With(zap.String("job_id", j.ID), zap.String("airbyte_job_id", j.AirbyteJobID),
		zap.String("connection_id", j.ConnectionID))
	// A check in progress when the process stops finishes its writes.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()

	abID, err := strconv.ParseInt(j.AirbyteJobID, 10, 64)
	var obs observation
	switch {
	case err != nil:
		obs = observation{jobID: j.AirbyteJobID, status: registry.JobFailed, failure: unknownFailure,
			reason: fmt.Sprintf("Airbyte job id %q is not a number", j.AirbyteJobID)}
	case l.err != nil:
		err = fmt.Errorf("list jobs: %w", l.err)
	case l.ok && l.job != nil:
		obs = w.describe(ctx, l.job)
		if obs.seenThrough != nil {
			obs.seenThrough = &l.through
		}
		w.m.checks.WithLabelValues("listed").Inc()
	case l.ok:
		// Unchanged since it was last seen.
		through := l.through
		obs = observation{jobID: j.AirbyteJobID, status: j.Status, startedAt: j.StartedAt,
			rows: j.RowsSynced, bytes: j.BytesSynced, airbyteStatus: j.AirbyteStatus, seenThrough: &through}
		w.m.checks.WithLabelValues("unchanged").Inc()
	default:
		obs, err = w.poll(ctx, j, abID)
	}
	if err == nil && !obs.terminal() && j.FollowDeadline != nil && !time.Now().Before(*j.FollowDeadline) {
		obs, err = w.cancelOverdue(ctx, j, abID)
	}
	if err != nil {
		retry := w.cfg.PollInterval
		if d, ok := airbyte.RetryAfter(err); ok {
			retry = max(retry, d)
		}
		w.m.checks.WithLabelValues("error").Inc()
		lvl := log.Warn
		if ctx.Err() != nil {
			lvl, retry = log.Debug, 0
		}
		lvl("job not checked", zap.Error(err), zap.Duration("retry_in", retry))
		if err := w.store.JobReschedule(wctx, j.ID, j.Status, nil, j.RowsSynced, j.BytesSynced, time.Now().Add(retry)); err != nil {
			log.Warn("job not rescheduled", zap.Error(err))
		}
		return
	}
	if !obs.terminal() {
		w.m.checks.WithLabelValues(string(obs.status)).Inc()
		// A job the list answers for costs nothing more to check each
		// round; one read on its own is polled less often as it ages.
		next := time.Now().Add(w.cfg.PollInterval)
		if !l.ok {
			next = time.Now().Add(w.cfg.nextPoll(time.Since(j.CreatedAt)))
		}
		if err := w.store.JobObserve(wctx, j.ID, registry.JobObservation{Status: obs.status, AirbyteStatus: obs.airbyteStatus,
			StartedAt: obs.startedAt, RowsSynced: obs.rows, BytesSynced: obs.bytes, SeenThrough: obs.seenThrough,
			NextCheckAt: next}); err != nil {
			log.Warn("job not rescheduled", zap.Error(err))
		}
		return
	}
	w.m.checks.WithLabelValues("ended").Inc()
	var done *registry.Job
	err = w.store.InTx(wctx, func(q *registry.Queries) error {
		var err error
		done, err = w.finishLocked(wctx, q, j, obs)
		return err
	})
	if err != nil {
		log.Warn("job end not recorded", zap.Error(err))
		return // the claim lapses and the job is checked again
	}
	if done != nil {
		w.m.finished.WithLabelValues(string(done.Status)).Inc()
		log.Debug("job ended", zap.String("status", string(done.Status)))
	}
}

// poll reads a job on its own (GET /jobs/{id}), and its failure reason when
// it failed or was cancelled. A job Airbyte no longer knows is reported
// failed (jobGone).
func (w *Worker) poll(ctx context.Context, j registry.Job, abID int64) (observation, error) {
	w.m.checks.WithLabelValues("read").Inc()
	job, err := w.ab.GetJob(ctx, abID)
	if airbyte.IsJobNotFound(err) {
		return w.jobGone(ctx, j, abID)
	}
	if err != nil {
		return observation{}, err
	}
	return w.describe(ctx, job), nil
}

// jobGone reports a job Airbyte no longer knows failed. Airbyte forgets a
// job with its connection (an Airbyte whose database was replaced), so
// the job's connection is looked up (GET /connections/{id}): when Airbyte
// does not know it either, it is marked ORPHANED, once, and the failure
// reason says so. A job id alone unknown (Airbyte's job history pruned)
// fails the job and leaves the connection as it is.
func (w *Worker) jobGone(ctx context.Context, j registry.Job, abID int64) (observation, error) {
	reason := fmt.Sprintf("Airbyte no longer knows job %d", abID)
	c, err := w.store.ConnectionGet(ctx, j.ConnectionID)
	if err != nil && !registry.IsNotFound(err) {
		return observation{}, fmt.Errorf("read connection %s: %w", j.ConnectionID, err)
	}
	if err == nil && c.Status.Live() {
		if orph, ok := w.orphans.Probe(ctx, app.RefOf(c)); ok {
			if c, err = w.orphans.Mark(ctx, app.RefOf(c), orph, nil); err != nil {
				return observation{}, err
			}
		}
	}
	if c.Status == registry.StatusOrphaned {
		reason += fmt.Sprintf("; connection %s is ORPHANED (%s)", c.ID, c.StatusReason)
	}
	now := time.Now().UTC()
	return observation{jobID: strconv.FormatInt(abID, 10), status: registry.JobFailed, completedAt: &now,
		failure: unknownFailure, reason: reason}, nil
}

// updatedAt is when Airbyte last changed a job, in Airbyte's clock, as far
// as its answer tells: lastUpdatedAt for an ended job, otherwise its
// creation plus its duration (updatedAt - createdAt), or its creation while
// it is pending. The public API rounds to the second, so this may be up to
// two seconds early, never late.
func updatedAt(j *airbyte.Job) (time.Time, bool) {
	if t, err := j.LastUpdatedAt.Time(); err == nil && !t.IsZero() {
		return t, true
	}
	created, err := j.StartTime.Time()
	if err != nil || created.IsZero() {
		return time.Time{}, false
	}
	if d, err := j.Duration.Duration(); err == nil && d > 0 {
		return created.Add(d), true
	}
	return created, true
}

// airbyteClock is the latest instant of Airbyte's own clock seen in its
// answers: a lower bound of Airbyte's time now, whatever AAM's clock says.
type airbyteClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *airbyteClock) saw(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

func (c *airbyteClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// cancelOverdue cancels a job followed for longer than FollowTimeout and
// reports it cancelled with the reason. Airbyte answers 200 or 409 "not
// running" for a job that ended meanwhile; its own outcome is kept then.
// A job Airbyte no longer knows is reported failed (jobGone).
func (w *Worker) cancelOverdue(ctx context.Context, j registry.Job, abID int64) (observation, error) {
	job, err := w.ab.CancelJob(ctx, abID)
	if airbyte.IsJobNotFound(err) {
		return w.jobGone(ctx, j, abID)
	}
	if err != nil {
		return observation{}, fmt.Errorf("cancel overdue job: %w", err)
	}
	if job.Status != airbyte.JobStatusCancelled {
		return w.describe(ctx, job), nil
	}
	o := w.describe(ctx, job)
	o.status = registry.JobCancelled
	if o.completedAt == nil {
		now := time.Now().UTC()
		o.completedAt = &now
	}
	o.reason = fmt.Sprintf("the job did not finish within the follow timeout (%s) and was cancelled", w.cfg.FollowTimeout)
	w.log.Info("overdue job cancelled", zap.Int64("airbyte_job_id", abID))
	return o, nil
}

// finishLocked records the end of a job and emits the terminal fact for
// every request it answers, inside q's transaction, unless the job is
// already recorded as ended. It returns the ended job when it recorded it.
func (w *Worker) finishLocked(ctx context.Context, q *registry.Queries, j registry.Job, obs observation) (*registry.Job, error) {
	st, err := q.SyncLockJob(ctx, j.ConnectionID, j.ID)
	if err != nil {
		return nil, err
	}
	if st.Job.Status.Terminal() {
		return nil, nil // another follower (or a request) recorded it
	}
	job, err := q.JobUpdate(ctx, j.ID, registry.JobUpdateParams{
		Status: obs.status, StartedAt: obs.startedAt, CompletedAt: obs.completedAt,
		RowsSynced: obs.rows, BytesSynced: obs.bytes, ErrorMessage: obs.reason,
		AirbyteStatus: obs.airbyteStatus, SeenThrough: obs.seenThrough, Failure: obs.failure,
	})
	if err != nil {
		return nil, err
	}
	facts := make([]registry.OutboxRow, 0, len(st.Requests))
	for _, r := range st.Requests {
		f, err := finishedFact(job, outbox.Request{Source: r.RequestSource, ID: r.RequestID, TraceParent: r.TraceParent})
		if err != nil {
			return nil, err
		}
		facts = append(facts, f)
	}
	if err := q.OutboxQueue(ctx, facts...); err != nil {
		return nil, err
	}
	corr := ""
	if len(st.Requests) > 0 {
		corr = st.Requests[len(st.Requests)-1].RequestID
	}
	if err := recordHealth(ctx, q, job, obs.streams, corr); err != nil {
		return nil, err
	}
	return &job, nil
}
