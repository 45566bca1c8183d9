package syncer

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aam-mesh/aam/pkg/airbyte"
	"github.com/aam-mesh/aam/pkg/outbox"
	"github.com/aam-mesh/aam/pkg/registry"
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

// followDue claims due jobs and checks them, a bounded number at a time.
func (w *Worker) followDue(ctx context.Context) (int, error) {
	jobs, err := w.store.JobClaimDue(ctx, time.Now(), w.cfg.FollowLease, w.cfg.FollowBatch)
	if err != nil {
		return 0, fmt.Errorf("claim due jobs: %w", err)
	}
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
			w.check(ctx, j)
		}()
	}
	wg.Wait()
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

// check polls one claimed job and records what it found: progress and the
// next check, or the end of the job and its facts. A job past its follow
// deadline is cancelled.
func (w *Worker) check(ctx context.Context, j registry.Job) {
	log := w.log.With(zap.String("job_id", j.ID), zap.String("airbyte_job_id", j.AirbyteJobID),
		zap.String("connection_id", j.ConnectionID))
	// A check in progress when the process stops finishes its writes.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()

	abID, err := strconv.ParseInt(j.AirbyteJobID, 10, 64)
	var obs observation
	switch {
	case err != nil:
		obs = observation{jobID: j.AirbyteJobID, status: registry.JobFailed,
			reason: fmt.Sprintf("Airbyte job id %q is not a number", j.AirbyteJobID)}
	default:
		obs, err = w.poll(ctx, abID)
	}
	if err == nil && !obs.terminal() && j.FollowDeadline != nil && !time.Now().Before(*j.FollowDeadline) {
		obs, err = w.cancelOverdue(ctx, abID)
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
		next := time.Now().Add(w.cfg.nextPoll(time.Since(j.CreatedAt)))
		if err := w.store.JobReschedule(wctx, j.ID, obs.status, obs.startedAt, obs.rows, obs.bytes, next); err != nil {
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

// poll reads a job, and its failure reason when it failed or was
// cancelled. A job Airbyte no longer knows is reported failed.
func (w *Worker) poll(ctx context.Context, abID int64) (observation, error) {
	job, err := w.ab.GetJob(ctx, abID)
	if airbyte.IsJobNotFound(err) {
		now := time.Now().UTC()
		return observation{jobID: strconv.FormatInt(abID, 10), status: registry.JobFailed, completedAt: &now,
			reason: fmt.Sprintf("Airbyte no longer knows job %d", abID)}, nil
	}
	if err != nil {
		return observation{}, err
	}
	return w.describe(ctx, job), nil
}

// cancelOverdue cancels a job followed for longer than FollowTimeout and
// reports it cancelled with the reason. Airbyte answers 200 or 409 "not
// running" for a job that ended meanwhile; its own outcome is kept then.
func (w *Worker) cancelOverdue(ctx context.Context, abID int64) (observation, error) {
	job, err := w.ab.CancelJob(ctx, abID)
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
	if _, err := q.OutboxAddAll(ctx, facts); err != nil {
		return nil, err
	}
	return &job, nil
}
