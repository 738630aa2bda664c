-- Least privilege for the history: policy versions, verifications and the watermark ledger are
-- appended through the role tracemark_history_writer (SET LOCAL ROLE inside the appending
-- transaction, `HistoryWriter` in Sources/Registry). It may read what those transactions read and
-- INSERT into the history, and holds no UPDATE, DELETE or TRUNCATE on any table, so a write path
-- that went wrong cannot rewrite history even with the append-only triggers disabled (and the
-- triggers never covered TRUNCATE).
--
-- Roles belong to the whole PostgreSQL server. A connecting user that may not create roles (an
-- external database) gets the role from its administrator (docs/operations.md); until then the
-- history is appended as the connecting user, guarded by the triggers only, and `tracemark doctor`
-- and `tracemark db status` say so. Every command that opens the registry retries the grants while
-- the role is not usable, so a role created later takes effect on the next start.

-- Why the current user cannot append through the role, or NULL when it can. The sequence grant
-- comes last in grant_history_writer, so it stands for all of them.
CREATE FUNCTION history_writer_problem() RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    writer oid := to_regrole('tracemark_history_writer');
BEGIN
    IF writer IS NULL THEN
        RETURN 'the role tracemark_history_writer does not exist';
    ELSIF NOT pg_has_role(writer, 'MEMBER') THEN
        RETURN format('the database user %s is not a member of the role tracemark_history_writer', current_user);
    ELSIF NOT has_sequence_privilege(writer, 'watermark_serials', 'USAGE') THEN
        RETURN 'the role tracemark_history_writer lacks its privileges on the history tables of this database';
    END IF;
    RETURN NULL;
END
$$;

-- Creates the role when it is missing and this user may, makes this user a member, grants the
-- role what the append paths need; returns history_writer_problem() afterwards.
CREATE FUNCTION grant_history_writer() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF to_regrole('tracemark_history_writer') IS NULL THEN
        BEGIN
            CREATE ROLE tracemark_history_writer NOLOGIN;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RETURN format('the role tracemark_history_writer does not exist and the database user %s may not create roles', current_user);
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a migration of another database on the same server
        END;
    END IF;
    IF NOT pg_has_role('tracemark_history_writer', 'MEMBER') THEN
        BEGIN
            GRANT tracemark_history_writer TO CURRENT_USER;
        EXCEPTION WHEN insufficient_privilege THEN
            RETURN history_writer_problem();
        END;
    END IF;
    -- Rights imports look tracks up and add holders and policies along with their versions; the
    -- ledger reads its last row and takes serials from the sequence (USAGE: nextval, not setval).
    GRANT SELECT ON tracks TO tracemark_history_writer;
    GRANT SELECT, INSERT ON rights_holders, policies, policy_versions, verifications, watermark_ledger
        TO tracemark_history_writer;
    GRANT USAGE ON SEQUENCE watermark_serials TO tracemark_history_writer;
    RETURN history_writer_problem();
END
$$;

SELECT grant_history_writer();
