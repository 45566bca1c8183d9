-- Effects once: the inbox of processed requests and the outbox of events
-- committed with the registry change they describe.

-- +goose Up
CREATE TABLE inbox (
    source        text NOT NULL,
    id            text NOT NULL,
    type          text NOT NULL,
    -- done, failed or rejected.
    outcome       text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

CREATE TABLE outbox (
    seq             bigserial PRIMARY KEY,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    subject         text NOT NULL,
    -- The registry connection id the event is about ('' if none).
    connection_id   text NOT NULL DEFAULT '',
    -- The id of the request the event answers ('' if none).
    correlation_id  text NOT NULL DEFAULT '',
    headers         jsonb NOT NULL,
    data            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    CONSTRAINT outbox_event_id_key UNIQUE (event_id)
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_correlation_idx ON outbox (correlation_id) WHERE correlation_id <> '';
CREATE INDEX outbox_connection_idx ON outbox (connection_id, seq) WHERE connection_id <> '';

-- +goose Down
DROP TABLE outbox;
DROP TABLE inbox;
