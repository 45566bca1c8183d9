package registry

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// StatusQuarantined: the connection's syncs failed too often in a row (or
// its credentials were refused), by its health policy; it is inactive in
// Airbyte and sync requests fail at once until it is released.
const StatusQuarantined ConnectionStatus = "QUARANTINED"

// Health is a row of connection_health: a connection's run of failed
// syncs.
type Health struct {
	ConnectionID        string
	ConsecutiveFailures int
	// Episode numbers the runs of failures from 1; WarnedEpisode and
	// QuarantinedEpisode are the last runs warned about and quarantined.
	Episode, WarnedEpisode, QuarantinedEpisode int
	// LastSuccessAt and LastFailureAt are the last job ends of each kind.
	LastSuccessAt, LastFailureAt *time.Time
	// AirbytePausePending is set while a quarantined connection's Airbyte
	// connection is still to be made inactive.
	AirbytePausePending bool
}

// Warned reports whether the connection's current run of failures was
// warned about: connection.health_warning was emitted for it (the run
// reached its policy's warn_after) and no success or release has ended it.
// healthWarnedSQL is the same test over a connection_health row h.
func (h Health) Warned() bool {
	return h.ConsecutiveFailures > 0 && h.Episode > 0 && h.WarnedEpisode == h.Episode
}

const healthWarnedSQL = `h.consecutive_failures > 0 AND h.episode > 0 AND h.warned_episode = h.episode`

// HealthFilter selects connections by health (ConnectionListParams).
type HealthFilter string

const (
	// HealthQuarantined keeps QUARANTINED connections.
	HealthQuarantined HealthFilter = "quarantined"
	// HealthWarning keeps connections whose current run of failures was
	// warned about (Health.Warned) and that are not QUARANTINED.
	HealthWarning HealthFilter = "warning"
)

// healthFilterSQL is ConnectionListParams.Health over a connections row,
// the filter in $1.
const healthFilterSQL = `($1 = '' OR ($1 = '` + string(HealthQuarantined) + `' AND status = 'QUARANTINED')
	OR ($1 = '` + string(HealthWarning) + `' AND status <> 'QUARANTINED' AND EXISTS (
		SELECT 1 FROM connection_health h WHERE h.connection_id = connections.id AND ` + healthWarnedSQL + `)))`

const healthColumns = `connection_id::text, consecutive_failures, episode, warned_episode, quarantined_episode,
	last_success_at, last_failure_at, airbyte_pause_pending`

func scanHealth(row pgx.Row) (Health, error) {
	var h Health
	err := row.Scan(&h.ConnectionID, &h.ConsecutiveFailures, &h.Episode, &h.WarnedEpisode, &h.QuarantinedEpisode,
		&h.LastSuccessAt, &h.LastFailureAt, &h.AirbytePausePending)
	return h, translate(err)
}

// HealthGet returns a connection's health; a connection that never ended a
// job has a zero Health (no error).
func (q *Queries) HealthGet(ctx context.Context, connectionID string) (Health, error) {
	if !validUUID(connectionID) {
		return Health{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	h, err := scanHealth(q.db.QueryRow(ctx, `SELECT `+healthColumns+` FROM connection_health WHERE connection_id = $1`, connectionID))
	if IsNotFound(err) {
		return Health{ConnectionID: connectionID}, nil
	}
	return h, err
}

// HealthSucceeded records a successful sync: the run of failures ends.
// Run it in the transaction that records the job's end.
func (q *Queries) HealthSucceeded(ctx context.Context, connectionID string) error {
	_, err := q.db.Exec(ctx, healthSucceededSQL, connectionID)
	return translate(err)
}

const healthSucceededSQL = `INSERT INTO connection_health AS h (connection_id, last_success_at) VALUES ($1, now())
	ON CONFLICT (connection_id) DO UPDATE SET consecutive_failures = 0, last_success_at = now(), updated_at = now()`

// HealthFailed records a failed sync and returns the connection's health
// after it: one more consecutive failure, and a new episode when the run
// starts. Run it in the transaction that records the job's end, holding
// the connection's row lock.
func (q *Queries) HealthFailed(ctx context.Context, connectionID string) (Health, error) {
	return scanHealth(q.db.QueryRow(ctx, `INSERT INTO connection_health AS h
			(connection_id, consecutive_failures, episode, last_failure_at) VALUES ($1, 1, 1, now())
		ON CONFLICT (connection_id) DO UPDATE SET consecutive_failures = h.consecutive_failures + 1,
			episode = CASE WHEN h.consecutive_failures = 0 THEN h.episode + 1 ELSE h.episode END,
			last_failure_at = now(), updated_at = now()
		RETURNING `+healthColumns, connectionID))
}

// HealthWarn marks the episode as warned about; false when it was before.
func (q *Queries) HealthWarn(ctx context.Context, connectionID string, episode int) (bool, error) {
	tag, err := q.db.Exec(ctx, `UPDATE connection_health SET warned_episode = $2
		WHERE connection_id = $1 AND warned_episode < $2`, connectionID, episode)
	return tag.RowsAffected() == 1, translate(err)
}

// HealthQuarantine moves an ACTIVE connection to QUARANTINED with reason
// and marks the episode quarantined, its Airbyte connection to be made
// inactive; false (nothing changed) when the connection is not ACTIVE or
// the episode was quarantined before.
func (q *Queries) HealthQuarantine(ctx context.Context, connectionID string, episode int, reason string) (bool, error) {
	tag, err := q.db.Exec(ctx, `WITH h AS (
			UPDATE connection_health SET quarantined_episode = $2, airbyte_pause_pending = true, updated_at = now()
			WHERE connection_id = $1 AND quarantined_episode < $2
				AND EXISTS (SELECT 1 FROM connections WHERE id = $1 AND status = 'ACTIVE')
			RETURNING connection_id
		)
		UPDATE connections SET status = 'QUARANTINED', status_reason = $3, updated_at = now()
		WHERE id IN (SELECT connection_id FROM h)`, connectionID, episode, reason)
	return tag.RowsAffected() == 1, translate(err)
}

// HealthRelease moves a QUARANTINED connection back to ACTIVE and ends its
// run of failures; it returns the health before the release, and false
// when the connection is not QUARANTINED. Run it holding the connection's
// row lock.
func (q *Queries) HealthRelease(ctx context.Context, connectionID string) (Health, bool, error) {
	before, err := q.HealthGet(ctx, connectionID)
	if err != nil {
		return Health{}, false, err
	}
	tag, err := q.db.Exec(ctx, `UPDATE connections SET status = 'ACTIVE', status_reason = '', updated_at = now()
		WHERE id = $1 AND status = 'QUARANTINED'`, connectionID)
	if err != nil || tag.RowsAffected() == 0 {
		return before, false, translate(err)
	}
	_, err = q.db.Exec(ctx, `UPDATE connection_health SET consecutive_failures = 0, airbyte_pause_pending = false,
		updated_at = now() WHERE connection_id = $1`, connectionID)
	return before, true, translate(err)
}

// StatusLockKey is the advisory lock key of a connection's status actions
// in Airbyte (StatusLock, HealthLock).
func StatusLockKey(connectionID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("aam-connection-health:" + connectionID))
	return int64(h.Sum64() >> 1)
}

// StatusLock serialises the calls that make a connection's Airbyte
// connection inactive and active again, whoever makes them: a quarantine
// and its release, a drift's pause and its resumption. It waits for the
// connection's lock, held until the caller's transaction ends, and returns
// the connection as it is then. The caller makes its Airbyte call under the
// lock, after reading that the registry still calls for it, and records it
// in the same transaction, so that one call never lands after the other
// was decided. A connection that does not exist is ErrNotFound.
func (q *Queries) StatusLock(ctx context.Context, connectionID string) (Connection, error) {
	if !validUUID(connectionID) {
		return Connection{}, &Error{Kind: ErrNotFound, Err: errBadID(connectionID)}
	}
	if _, err := q.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, StatusLockKey(connectionID)); err != nil {
		return Connection{}, translate(err)
	}
	return q.ConnectionGet(ctx, connectionID)
}

// HealthLock is StatusLock for a quarantine or a release: it also returns
// the connection's health as it is under the lock.
func (q *Queries) HealthLock(ctx context.Context, connectionID string) (Connection, Health, error) {
	c, err := q.StatusLock(ctx, connectionID)
	if err != nil {
		return Connection{}, Health{}, err
	}
	h, err := q.HealthGet(ctx, connectionID)
	return c, h, err
}

// HealthPausePending lists up to limit quarantined connections whose
// Airbyte connection is still to be made inactive.
func (q *Queries) HealthPausePending(ctx context.Context, limit int) ([]Connection, error) {
	return list(ctx, q.db, scanConnection, `SELECT `+connectionColumns+` FROM connections
		WHERE status = 'QUARANTINED' AND id IN (SELECT connection_id FROM connection_health WHERE airbyte_pause_pending)
		LIMIT $1`, limit)
}

// HealthPaused records that a quarantined connection's Airbyte connection
// was made inactive.
func (q *Queries) HealthPaused(ctx context.Context, connectionID string) error {
	_, err := q.db.Exec(ctx, `UPDATE connection_health SET airbyte_pause_pending = false WHERE connection_id = $1`, connectionID)
	return translate(err)
}

// JobListFailed lists a connection's newest failed jobs, newest first.
func (q *Queries) JobListFailed(ctx context.Context, connectionID string, limit int) ([]Job, error) {
	return list(ctx, q.db, scanJob, `SELECT `+jobColumns+` FROM job_history
		WHERE connection_id = $1 AND status = 'failed' ORDER BY created_at DESC, id DESC LIMIT $2`, connectionID, limit)
}
