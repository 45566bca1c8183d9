-- The connector registry: connections, their immutable catalog versions and
-- the history of their sync jobs.

-- +goose Up
CREATE TYPE connection_status AS ENUM ('PENDING', 'ACTIVE', 'FAILED', 'HEALING');
CREATE TYPE job_status AS ENUM ('pending', 'running', 'succeeded', 'failed', 'cancelled');

CREATE TABLE connections (
    id                          uuid PRIMARY KEY,
    name                        text NOT NULL,
    source_type                 text NOT NULL,
    credential_id               text NOT NULL DEFAULT '',
    airbyte_destination_id      text NOT NULL DEFAULT '',
    airbyte_source_definition_id text NOT NULL DEFAULT '',
    airbyte_source_id           text,
    airbyte_connection_id       text,
    airbyte_source_catalog_id   text,
    status                      connection_status NOT NULL DEFAULT 'PENDING',
    status_reason               text NOT NULL DEFAULT '',
    -- Onboarding checkpoint: the last step whose result is recorded here.
    onboard_step                text NOT NULL DEFAULT '',
    -- The onboarding request that created the row (CloudEvent source + id).
    request_source              text NOT NULL,
    request_id                  text NOT NULL,
    -- Streams chosen at onboarding; empty means the connector's suggestion.
    requested_streams           text[] NOT NULL DEFAULT '{}',
    -- The catalog discovered while onboarding, until version 1 is recorded.
    discovered_catalog          jsonb,
    catalog_version             integer NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT connections_request_key UNIQUE (request_source, request_id)
);
CREATE INDEX connections_created_at_idx ON connections (created_at, id);
CREATE UNIQUE INDEX connections_airbyte_connection_id_key ON connections (airbyte_connection_id)
    WHERE airbyte_connection_id IS NOT NULL;

CREATE TABLE sync_catalog_versions (
    id                 uuid PRIMARY KEY,
    connection_id      uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    version_number     integer NOT NULL CHECK (version_number > 0),
    sync_catalog       jsonb NOT NULL,
    content_hash       text NOT NULL,
    source_catalog_id  text,
    reason             text NOT NULL DEFAULT '',
    request_source     text NOT NULL DEFAULT '',
    request_id         text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_catalog_versions_number_key UNIQUE (connection_id, version_number)
);

CREATE TABLE job_history (
    id               uuid PRIMARY KEY,
    connection_id    uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    airbyte_job_id   text NOT NULL,
    status           job_status NOT NULL,
    catalog_version  integer NOT NULL,
    started_at       timestamptz,
    completed_at     timestamptz,
    rows_synced      bigint NOT NULL DEFAULT 0,
    bytes_synced     bigint NOT NULL DEFAULT 0,
    error_message    text NOT NULL DEFAULT '',
    -- Following: when the job is next polled and when following gives up.
    next_check_at    timestamptz,
    follow_deadline  timestamptz,
    check_count      integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_history_airbyte_job_key UNIQUE (connection_id, airbyte_job_id)
);
CREATE INDEX job_history_connection_idx ON job_history (connection_id, created_at DESC);
CREATE INDEX job_history_follow_idx ON job_history (next_check_at)
    WHERE status IN ('pending', 'running');

-- The sync requests answered by a job: one job may answer several requests
-- (a request that finds a sync already running is attached to it).
CREATE TABLE job_requests (
    job_id          uuid NOT NULL REFERENCES job_history (id) ON DELETE CASCADE,
    request_source  text NOT NULL,
    request_id      text NOT NULL,
    traceparent     text NOT NULL DEFAULT '',
    attached        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_source, request_id)
);
CREATE INDEX job_requests_job_idx ON job_requests (job_id);

-- +goose Down
DROP TABLE job_requests;
DROP TABLE job_history;
DROP TABLE sync_catalog_versions;
DROP TABLE connections;
DROP TYPE job_status;
DROP TYPE connection_status;
