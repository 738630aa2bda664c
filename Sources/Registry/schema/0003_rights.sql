-- Rights: who holds what in which recording, versioned so that "what did the rules say at time T"
-- stays answerable, and a record of every verification.

CREATE TABLE rights_holders (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> '')
);

-- A holder's policy for one recording, named by track id, ISRC or content SHA-256 (hex), so rights
-- can be registered before the master is ingested. Its content lives in its versions.
CREATE TABLE policies (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_kind text    NOT NULL CHECK (target_kind IN ('track', 'isrc', 'content')),
    target      text    NOT NULL,
    holder_id   integer NOT NULL REFERENCES rights_holders (id),
    UNIQUE (target_kind, target, holder_id)
);

-- Every version of every policy. A change inserts the next version; nothing is updated or deleted,
-- so the version in force at T is the newest one recorded at or before T. `rules` is a JSON array
-- of {territories, valid_from, valid_until, actions: {use: action}, replace_fallback}
-- (docs/rights.md); an empty array withdraws the policy.
CREATE TABLE policy_versions (
    policy_id   integer     NOT NULL REFERENCES policies (id),
    version     integer     NOT NULL CHECK (version > 0),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    rules       jsonb       NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
    source      text,
    PRIMARY KEY (policy_id, version)
);

CREATE FUNCTION reject_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER policy_versions_append_only BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION reject_history_change();

-- One row per answered verification: who asked (peer credentials of the socket), about what audio,
-- under which use, territory and time, and what was decided for each segment.
CREATE TABLE verifications (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    peer_uid      integer,
    peer_gid      integer,
    peer_pid      integer,
    use           text        NOT NULL,
    territory     text        NOT NULL,
    evaluated_at  timestamptz NOT NULL,
    audio_sha256  bytea       NOT NULL CHECK (octet_length(audio_sha256) = 32),
    decision      text        NOT NULL CHECK (decision IN ('allow', 'claim', 'replace', 'block')),
    segments      jsonb       NOT NULL
);
CREATE INDEX verifications_requested_at ON verifications (requested_at);
CREATE TRIGGER verifications_append_only BEFORE UPDATE OR DELETE ON verifications
    FOR EACH ROW EXECUTE FUNCTION reject_history_change();
