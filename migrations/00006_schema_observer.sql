-- The schema observer's state: per connection, the source's streams that
-- the current catalog version was made from (new streams are measured
-- against them) and when the source was last discovered; and every distinct
-- drift found, once per catalog version and discovered catalog.

-- +goose Up
CREATE TABLE schema_observations (
    connection_id        uuid PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    -- The catalog version the baseline belongs to; a new version resets it.
    catalog_version      integer NOT NULL,
    -- [{name, namespace}] of every stream the source offered; NULL until known.
    baseline_streams     jsonb,
    -- The Airbyte catalog the baseline was read from.
    baseline_catalog_id  text NOT NULL DEFAULT '',
    -- Hash of the last discovered catalog (its streams' definitions).
    last_hash            text NOT NULL DEFAULT '',
    checked_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schema_drifts (
    connection_id      uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    catalog_version    integer NOT NULL,
    discovered_hash    text NOT NULL,
    -- Airbyte's id of the discovered catalog.
    source_catalog_id  text NOT NULL DEFAULT '',
    breaking           boolean NOT NULL,
    -- The difference, in Airbyte's CatalogDiff form.
    diff               jsonb NOT NULL,
    -- The repair request that heals it ('' when none), and when JetStream
    -- acknowledged it.
    repair_request_id  text NOT NULL DEFAULT '',
    repair_published_at timestamptz,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, catalog_version, discovered_hash)
);

-- +goose Down
DROP TABLE schema_drifts;
DROP TABLE schema_observations;
