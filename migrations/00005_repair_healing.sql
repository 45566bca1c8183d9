-- Drift repair: the repair request that holds a connection HEALING, so that
-- a redelivery of that request resumes the repair while other requests for
-- the connection wait for it to end.

-- +goose Up
ALTER TABLE connections
    ADD COLUMN healing_request_source text NOT NULL DEFAULT '',
    ADD COLUMN healing_request_id     text NOT NULL DEFAULT '',
    ADD COLUMN healing_started_at     timestamptz;

-- +goose Down
ALTER TABLE connections
    DROP COLUMN healing_started_at,
    DROP COLUMN healing_request_id,
    DROP COLUMN healing_request_source;
