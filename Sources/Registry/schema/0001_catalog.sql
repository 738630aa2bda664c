-- Catalog: one row per ingested master recording.
CREATE TABLE tracks (
    id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_path     text        NOT NULL,
    content_sha256  bytea       NOT NULL UNIQUE CHECK (octet_length(content_sha256) = 32),
    title           text,
    artist          text,
    album           text,
    isrc            text        CHECK (isrc ~ '^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$'),
    duration_s      double precision NOT NULL CHECK (duration_s >= 0),
    sample_rate     integer     NOT NULL CHECK (sample_rate > 0),
    channels        integer     NOT NULL CHECK (channels > 0),
    fingerprint_version integer NOT NULL,
    hash_count      integer     NOT NULL CHECK (hash_count >= 0),
    ingested_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracks_isrc ON tracks (isrc) WHERE isrc IS NOT NULL;

-- Landmark hashes: one narrow row per hash (4-byte hash, 4-byte track id, 4-byte anchor frame).
-- No primary key and no index on track_id on purpose: the only read path is "rows whose hash is
-- one of these", served by the hash index, and every byte here is paid per hash stored. A track's
-- rows are written in the same transaction as its tracks row (COPY ... FORMAT binary).
CREATE TABLE fingerprints (
    hash      integer NOT NULL,
    track_id  integer NOT NULL,
    frame     integer NOT NULL
);
CREATE INDEX fingerprints_hash ON fingerprints (hash);
