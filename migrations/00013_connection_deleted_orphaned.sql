-- Two end states of a connection: DELETED (deleted on request: its Airbyte
-- connection and source are gone, its versions and jobs are kept) and
-- ORPHANED (its Airbyte no longer knows its connection; status_reason says
-- what was found).

-- +goose Up
ALTER TYPE connection_status ADD VALUE IF NOT EXISTS 'DELETED';
ALTER TYPE connection_status ADD VALUE IF NOT EXISTS 'ORPHANED';

-- +goose Down
-- PostgreSQL cannot drop an enum value: both stay in the type (the first
-- migration's down drops it), and no connection is left in them.
UPDATE connections SET status = 'FAILED', status_reason = status::text || ': ' || status_reason
    WHERE status::text IN ('DELETED', 'ORPHANED');
