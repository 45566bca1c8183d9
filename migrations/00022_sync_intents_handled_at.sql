-- A sync request's intent keeps two instants: requested_at, when the request
-- was first seen (its arrival in the request stream, bounded by the clock
-- skew allowed between the NATS server and the database, or its first
-- handling, whichever is earlier: the job that answers it is one whose start
-- was claimed at or after this), and handled_at, when its first delivery
-- recorded the intent (a copy of the request in another message, handled
-- soon after, is put off until that delivery ends).

-- +goose Up
ALTER TABLE sync_intents ADD COLUMN handled_at timestamptz NOT NULL DEFAULT now();

-- +goose Down
ALTER TABLE sync_intents DROP COLUMN handled_at;
