-- The volume of a successful job in one row: its streams' names (sorted),
-- records and bytes as three arrays of one order, instead of a row per
-- stream. A job's end then writes one row however many streams its
-- connection has, and the trailing history of every stream is the last few
-- rows of the connection.

-- +goose Up
CREATE TABLE job_volumes (
    job_id        uuid        PRIMARY KEY REFERENCES job_history (id) ON DELETE CASCADE,
    connection_id uuid        NOT NULL,
    -- The job's end, which orders a connection's history.
    completed_at  timestamptz NOT NULL,
    -- Stream names, prefixed with their namespace and a dot when they have
    -- one, sorted; records[i] and bytes[i] are streams[i]'s.
    streams       text[]      NOT NULL,
    records       bigint[]    NOT NULL,
    bytes         bigint[]    NOT NULL,
    CHECK (cardinality(records) = cardinality(streams) AND cardinality(bytes) = cardinality(streams))
);
CREATE INDEX job_volumes_history ON job_volumes (connection_id, completed_at DESC, job_id DESC);

INSERT INTO job_volumes (job_id, connection_id, completed_at, streams, records, bytes)
SELECT job_id, connection_id, max(completed_at),
    array_agg(stream ORDER BY stream), array_agg(records ORDER BY stream), array_agg(bytes ORDER BY stream)
FROM job_stream_stats GROUP BY job_id, connection_id;

DROP TABLE job_stream_stats;

-- +goose Down
CREATE TABLE job_stream_stats (
    job_id        uuid        NOT NULL REFERENCES job_history (id) ON DELETE CASCADE,
    connection_id uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    stream        text        NOT NULL,
    records       bigint      NOT NULL,
    bytes         bigint      NOT NULL,
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (job_id, stream)
);
CREATE INDEX job_stream_stats_history ON job_stream_stats (connection_id, stream, completed_at DESC);

INSERT INTO job_stream_stats (job_id, connection_id, stream, records, bytes, completed_at)
SELECT v.job_id, v.connection_id, s.stream, s.records, s.bytes, v.completed_at
FROM job_volumes v CROSS JOIN LATERAL unnest(v.streams, v.records, v.bytes) AS s(stream, records, bytes);

DROP TABLE job_volumes;
