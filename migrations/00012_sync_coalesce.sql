-- Sync requests for one connection share its jobs: one request at a time
-- (across every sync worker) may ask Airbyte to start a job for a
-- connection, the others wait for that job and are answered by it. Jobs
-- remember when AAM asked for them, and what Airbyte last said about them,
-- so that followers can learn their changes from Airbyte's job list.

-- +goose Up
-- The request that holds the right to start a connection's next job, until
-- held_until (a holder that died gives it up then).
CREATE TABLE sync_starts (
    connection_id  uuid PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    holder         text NOT NULL,
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    held_until     timestamptz NOT NULL
);

ALTER TABLE job_history
    -- When AAM claimed the start of this job (database clock), before it
    -- asked Airbyte for it; NULL for a job AAM did not start (one found
    -- running). Every request first seen before this instant may be answered
    -- by the job.
    ADD COLUMN start_requested_at timestamptz,
    -- Airbyte's status as last seen, verbatim: a status this version does
    -- not know is kept here while the job is followed as running.
    ADD COLUMN airbyte_status text NOT NULL DEFAULT '',
    -- Airbyte's clock: the job's changes up to this instant are known. A
    -- follower asks Airbyte's job list for the changes since then.
    ADD COLUMN airbyte_seen_through timestamptz;

-- +goose Down
ALTER TABLE job_history DROP COLUMN airbyte_seen_through, DROP COLUMN airbyte_status, DROP COLUMN start_requested_at;
DROP TABLE sync_starts;
