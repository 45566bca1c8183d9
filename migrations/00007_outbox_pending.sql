-- The outbox becomes insert-only: the events still to publish are listed in
-- the narrow outbox_pending table, which the relay deletes from once
-- JetStream has them. Marking an event published no longer rewrites the
-- (wide, indexed) outbox row. Headers are stored as JSON bytes.

-- +goose Up
CREATE TABLE outbox_pending (
    seq bigint PRIMARY KEY
);
INSERT INTO outbox_pending (seq) SELECT seq FROM outbox WHERE published_at IS NULL;
DROP INDEX outbox_unpublished_idx;
DROP INDEX outbox_connection_idx;
ALTER TABLE outbox DROP COLUMN published_at;
ALTER TABLE outbox ALTER COLUMN headers TYPE bytea USING convert_to(headers::text, 'UTF8');

-- +goose Down
ALTER TABLE outbox ALTER COLUMN headers TYPE jsonb USING convert_from(headers, 'UTF8')::jsonb;
ALTER TABLE outbox ADD COLUMN published_at timestamptz;
UPDATE outbox SET published_at = created_at WHERE seq NOT IN (SELECT seq FROM outbox_pending);
CREATE INDEX outbox_connection_idx ON outbox (connection_id, seq) WHERE connection_id <> '';
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
DROP TABLE outbox_pending;
