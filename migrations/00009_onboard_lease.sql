-- Which delivery of an onboarding request is doing the work: a copy of the
-- request published again while the first is still onboarding leaves the
-- work to it instead of creating Airbyte objects of its own.

-- +goose Up
ALTER TABLE connections
    ADD COLUMN onboard_holder text NOT NULL DEFAULT '',
    ADD COLUMN onboard_lease_until timestamptz;

-- +goose Down
ALTER TABLE connections DROP COLUMN onboard_lease_until, DROP COLUMN onboard_holder;
