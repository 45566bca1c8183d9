-- Connection health: consecutive failed syncs, the episode they belong to
-- (a run of failures between two successes or releases), whether the
-- episode's warning and quarantine were emitted, and QUARANTINED, the
-- status of a connection that failed too often (inactive in Airbyte until
-- released).

-- +goose Up
ALTER TYPE connection_status ADD VALUE IF NOT EXISTS 'QUARANTINED';

CREATE TABLE connection_health (
    connection_id        uuid        PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    -- Numbered from 1: the run of failures in progress (or the last one).
    episode              integer     NOT NULL DEFAULT 0,
    warned_episode       integer     NOT NULL DEFAULT 0,
    quarantined_episode  integer     NOT NULL DEFAULT 0,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    -- Set when the connection was quarantined and its Airbyte connection
    -- is still to be made inactive.
    airbyte_pause_pending boolean    NOT NULL DEFAULT false,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connection_health_pause_pending ON connection_health (connection_id) WHERE airbyte_pause_pending;

-- +goose Down
DROP TABLE connection_health;
-- PostgreSQL cannot drop an enum value: QUARANTINED stays in the type (the
-- first migration's down drops it), and no connection is left in it.
UPDATE connections SET status = 'ACTIVE' WHERE status::text = 'QUARANTINED';
