-- outbox_pending sees an insert and a delete per event: vacuum and analyze
-- it after a few thousand changes rather than a fraction of its size, so
-- that dead entries do not pile up under load.

-- +goose Up
ALTER TABLE outbox_pending SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0
);

-- +goose Down
ALTER TABLE outbox_pending RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold, autovacuum_vacuum_cost_delay
);
