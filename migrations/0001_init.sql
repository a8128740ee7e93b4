-- sesame schema version 1: grants and the assertion log (one hash chain per replica).
-- Applied by `sesame db migrate` under an advisory lock, in one transaction, as the
-- schema owner. The runtime role's rights come from the group role sesame_runtime:
-- grant it to the login role sesame runs as (`GRANT sesame_runtime TO sesame;`).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sesame_runtime') THEN
        CREATE ROLE sesame_runtime NOLOGIN;
    END IF;
END
$$;

CREATE TABLE grants (
    id          bigserial PRIMARY KEY,
    usr         text        NOT NULL CHECK (length(usr) BETWEEN 1 AND 128),
    grp         text        NOT NULL CHECK (length(grp) BETWEEN 1 AND 256),
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL CHECK (end_at > start_at),
    ticket      text        NOT NULL,
    approver    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX grants_by_user ON grants (usr, end_at);

-- The assertion log: `line` is the record exactly as the files would hold it (without
-- the newline); `hash` is hex SHA-256 of it. The other columns are copies of fields in
-- `line`, for search; the chain and docs/audit-format.md define the record.
CREATE TABLE audit_records (
    replica      text   NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 1),
    kind         text   NOT NULL,
    at           text   NOT NULL,
    usr          text,
    assertion_id text,
    hash         text   NOT NULL CHECK (length(hash) = 64),
    line         text   NOT NULL,
    PRIMARY KEY (replica, seq)
);
CREATE UNIQUE INDEX audit_records_by_assertion ON audit_records (assertion_id)
    WHERE assertion_id IS NOT NULL;
CREATE INDEX audit_records_by_user ON audit_records (usr) WHERE usr IS NOT NULL;

-- Append-only, even for the owner by mistake: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION sesame_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_records_append_only
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION sesame_audit_append_only();
CREATE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION sesame_audit_append_only();

REVOKE ALL ON grants, audit_records FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON grants TO sesame_runtime;
GRANT USAGE ON SEQUENCE grants_id_seq TO sesame_runtime;
GRANT SELECT, INSERT ON audit_records TO sesame_runtime;
GRANT SELECT ON sesame_migrations TO sesame_runtime;
