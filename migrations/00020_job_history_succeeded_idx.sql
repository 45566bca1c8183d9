-- A connection's successful jobs, newest end first: the duration history
-- read after every successful job and the per-job volume list read a few
-- rows from here however many jobs the connection has had.

-- +goose Up
CREATE INDEX job_history_succeeded_idx ON job_history (connection_id, completed_at DESC NULLS LAST, id DESC)
    WHERE status = 'succeeded';

-- +goose Down
DROP INDEX job_history_succeeded_idx;
