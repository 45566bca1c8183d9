-- Sync requests between "about to ask Airbyte for a job" and "linked to the
-- job that answers them". A request is recorded here, and committed, before
-- the sync worker calls POST /jobs; the row goes in the transaction that
-- links the request to its job. A redelivered request that finds its row
-- without a link looks for the job Airbyte created since requested_at
-- instead of starting another.

-- +goose Up
CREATE TABLE sync_intents (
    request_source  text NOT NULL,
    request_id      text NOT NULL,
    connection_id   uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    -- The database clock when the request was first seen: every job started
    -- for it was created by Airbyte after this instant.
    requested_at    timestamptz NOT NULL DEFAULT now(),
    deliveries      integer NOT NULL DEFAULT 1,
    PRIMARY KEY (request_source, request_id)
);

-- +goose Down
DROP TABLE sync_intents;
