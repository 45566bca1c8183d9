-- Why a failed sync failed: the class AAM gives Airbyte's failure reason
-- (credentials, source, destination, transient, platform, unknown) and the
-- reason's failureType and failureOrigin as Airbyte reported them.

-- +goose Up
ALTER TABLE job_history
    ADD COLUMN failure_class  text NOT NULL DEFAULT '',
    ADD COLUMN failure_type   text NOT NULL DEFAULT '',
    ADD COLUMN failure_origin text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE job_history DROP COLUMN failure_class, DROP COLUMN failure_type, DROP COLUMN failure_origin;
