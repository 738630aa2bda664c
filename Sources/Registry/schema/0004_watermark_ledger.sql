-- The watermark ledger: one row per issued watermark, only ever inserted. Each row holds the
-- SHA-256 of the row before it and is signed by the registry, so the rows form a hash chain that
-- `tracemark audit verify` rechecks: an inserted, altered or removed row breaks it.
CREATE TABLE watermark_ledger (
    serial           bigint      PRIMARY KEY CHECK (serial > 0),
    issued_at        timestamptz NOT NULL,
    certificate      bytea       NOT NULL,  -- docs/watermark.md: signed, encrypted to the auditor
    previous_sha256  bytea       NOT NULL CHECK (octet_length(previous_sha256) = 32),
    row_sha256       bytea       NOT NULL CHECK (octet_length(row_sha256) = 32),
    signing_key_id   text        NOT NULL,
    row_signature    bytea       NOT NULL CHECK (octet_length(row_signature) = 64)
);
CREATE SEQUENCE watermark_serials AS bigint;
CREATE TRIGGER watermark_ledger_append_only BEFORE UPDATE OR DELETE ON watermark_ledger
    FOR EACH ROW EXECUTE FUNCTION reject_history_change();
