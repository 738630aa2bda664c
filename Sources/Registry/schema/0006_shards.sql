-- Shards: PostgreSQL servers that hold partitions of the fingerprint table (docs/scaling.md).
-- Each is also a postgres_fdw foreign server of the same name, with a user mapping for the user
-- that added it; a partition on a shard is a foreign table attached in the partition's place.
-- Which partition lives where is read from the catalog (pg_inherits, pg_foreign_table), never
-- recorded twice. The URL is kept without its password, which lives in the user mapping only.
CREATE TABLE shards (
    name     text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$' AND name <> 'local'),
    url      text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now()
);
