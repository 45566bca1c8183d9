-- Volume of successful syncs: the records and bytes each stream moved in
-- each successful job (the trailing history a job's volume is judged
-- against; the job's duration is its row's completed_at - started_at), and
-- the volume anomalies found, open until a later job finds the stream
-- normal again.

-- +goose Up
CREATE TABLE job_stream_stats (
    job_id        uuid        NOT NULL REFERENCES job_history (id) ON DELETE CASCADE,
    connection_id uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    -- The stream's name, prefixed with its namespace and a dot when it has one.
    stream        text        NOT NULL,
    records       bigint      NOT NULL,
    bytes         bigint      NOT NULL,
    -- The job's end, which orders a stream's history.
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (job_id, stream)
);
CREATE INDEX job_stream_stats_history ON job_stream_stats (connection_id, stream, completed_at DESC);

CREATE TABLE volume_anomalies (
    id             uuid        PRIMARY KEY,
    connection_id  uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    -- The job that raised it.
    job_id         uuid        NOT NULL REFERENCES job_history (id) ON DELETE CASCADE,
    airbyte_job_id text        NOT NULL,
    -- '' for a duration anomaly (the job's, not a stream's).
    stream         text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('drop', 'spike', 'zero', 'duration')),
    -- records, or duration_ms for a duration anomaly.
    metric         text        NOT NULL,
    observed       bigint      NOT NULL,
    expected_min   bigint      NOT NULL,
    expected_max   bigint      NOT NULL,
    median         double precision NOT NULL,
    history_jobs   integer     NOT NULL,
    detected_at    timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz,
    -- The job that found the stream normal again.
    closed_by_job_id uuid
);
-- One open anomaly per stream and kind: while it is open, later jobs of the
-- same kind raise no new one.
CREATE UNIQUE INDEX volume_anomalies_open ON volume_anomalies (connection_id, stream, kind) WHERE closed_at IS NULL;

-- +goose Down
DROP TABLE volume_anomalies;
DROP TABLE job_stream_stats;
