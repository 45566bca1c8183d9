-- Drift decided by policy: versioned drift policies per connection, the
-- classified changes of every drift with the decision taken and its
-- provenance, the PAUSED status a pausing decision leaves a connection in,
-- and the approvals asked for.

-- +goose Up
ALTER TYPE connection_status ADD VALUE IF NOT EXISTS 'PAUSED';

-- Every policy a connection had, immutable, numbered from 1; the highest
-- version is in force. No row: the default policy (version 0).
CREATE TABLE drift_policies (
    connection_id  uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    version        integer     NOT NULL CHECK (version > 0),
    policy         jsonb       NOT NULL,
    -- The request that set it: a redelivered request finds its version.
    request_source text        NOT NULL DEFAULT '',
    request_id     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, version)
);
CREATE UNIQUE INDEX drift_policies_request ON drift_policies (connection_id, request_source, request_id)
    WHERE request_id <> '';

ALTER TABLE schema_drifts
    -- The classified changes ([drift.Change]).
    ADD COLUMN changes           jsonb   NOT NULL DEFAULT '[]',
    -- The policy's decision: the drift's action, the rule that set it, the
    -- policy version, and every change's decision with its inputs.
    ADD COLUMN action            text    NOT NULL DEFAULT '',
    ADD COLUMN rule_id           text    NOT NULL DEFAULT '',
    ADD COLUMN policy_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN decisions         jsonb   NOT NULL DEFAULT '[]',
    -- Where the decision stands: '' (reported only), propagated, ignored,
    -- paused, approval_requested, approved, rejected.
    ADD COLUMN status            text    NOT NULL DEFAULT '',
    -- When the Airbyte connection was made inactive for a pause.
    ADD COLUMN airbyte_paused_at timestamptz,
    -- When a person approved or rejected it, and the request that did.
    ADD COLUMN resolved_at       timestamptz,
    ADD COLUMN resolved_by       text    NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE schema_drifts
    DROP COLUMN changes, DROP COLUMN action, DROP COLUMN rule_id, DROP COLUMN policy_version,
    DROP COLUMN decisions, DROP COLUMN status, DROP COLUMN airbyte_paused_at, DROP COLUMN resolved_at,
    DROP COLUMN resolved_by;
DROP TABLE drift_policies;
-- PostgreSQL cannot drop an enum value: PAUSED stays in the type (the first
-- migration's down drops it), and no connection is left in it.
UPDATE connections SET status = 'ACTIVE' WHERE status::text = 'PAUSED';
