-- The requests whose id a caller chose (an HTTP Idempotency-Key or a
-- CloudEvent's own id at the gateway), with what they asked, so that the
-- same id reused for a different request is refused for as long as it is
-- remembered, answered or not.

-- +goose Up
CREATE TABLE request_keys (
    source      text        NOT NULL,
    id          text        NOT NULL,
    type        text        NOT NULL,
    subject     text        NOT NULL DEFAULT '',
    data_sha256 bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

-- +goose Down
DROP TABLE request_keys;
