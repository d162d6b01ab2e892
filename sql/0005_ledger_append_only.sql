-- The ledger is append-only, and each entry gets its RFC 9162 leaf hash as it is written.
--
-- Canonical entry bytes (version 1): UTF-8 text, one "name=value" line per field in this order,
-- each line ending in "\n", absent values empty, keys and hashes in lower-case hex, UUIDs in
-- lower case, times in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ:
--   passby-ledger-v1, seq, kind, at, client, staff, personal, grant, method, basis, result, cti, exp
-- where `personal` is the hex SHA-256 of the personal part, itself lines in this order:
--   requester, requester_masked, subject, subject_masked
-- leaf_hash = SHA-256(0x00 || entry bytes). Anyone can recompute it with standard SHA-256.
-- The retention purge erases the personal part and keeps its digest, so leaves still verify.

ALTER TABLE ledger ADD COLUMN leaf_hash bytea;
ALTER TABLE ledger ADD COLUMN personal_digest bytea;
ALTER TABLE ledger ADD COLUMN purged_at timestamptz;

CREATE FUNCTION ledger_personal_text(l ledger) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'requester=' || coalesce(encode(l.requester_key, 'hex'), '') || E'\n'
        || 'requester_masked=' || coalesce(l.requester_masked, '') || E'\n'
        || 'subject=' || coalesce(encode(l.subject_key, 'hex'), '') || E'\n'
        || 'subject_masked=' || coalesce(l.subject_masked, '') || E'\n'
$$;

CREATE FUNCTION ledger_time(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION ledger_entry_text(l ledger) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT 'passby-ledger-v1' || E'\n'
        || 'seq=' || l.seq || E'\n'
        || 'kind=' || l.kind || E'\n'
        || 'at=' || ledger_time(l.at) || E'\n'
        || 'client=' || coalesce(l.client_id::text, '') || E'\n'
        || 'staff=' || coalesce(l.staff_id::text, '') || E'\n'
        || 'personal=' || encode(l.personal_digest, 'hex') || E'\n'
        || 'grant=' || coalesce(l.grant_id::text, '') || E'\n'
        || 'method=' || coalesce(l.method, '') || E'\n'
        || 'basis=' || coalesce(l.legal_basis, '') || E'\n'
        || 'result=' || l.result || E'\n'
        || 'cti=' || coalesce(encode(l.code_cti, 'hex'), '') || E'\n'
        || 'exp=' || coalesce(ledger_time(l.code_exp), '') || E'\n'
$$;

CREATE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.personal_digest := sha256(convert_to(ledger_personal_text(NEW), 'UTF8'));
    NEW.purged_at := NULL;
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    RETURN NEW;
END
$$;
CREATE TRIGGER ledger_leaf BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_leaf();
ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_leaf;

-- Guards: no UPDATE, DELETE or TRUNCATE, for every role, even with session_replication_role =
-- replica (ENABLE ALWAYS). The one sanctioned change is the retention purge (passby.purge = on in
-- the transaction): it may only erase the personal part and stamp purged_at.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE FUNCTION ledger_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('passby.purge', true) = 'on'
       AND NEW.requester_key IS NULL AND NEW.requester_masked IS NULL AND NEW.subject_key IS NULL AND NEW.subject_masked IS NULL
       AND NEW.purged_at IS NOT NULL AND OLD.purged_at IS NULL
       AND (NEW.seq, NEW.kind, NEW.at, NEW.client_id, NEW.staff_id, NEW.grant_id, NEW.method, NEW.legal_basis, NEW.result,
            NEW.code_cti, NEW.code_exp, NEW.leaf_hash, NEW.personal_digest)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.kind, OLD.at, OLD.client_id, OLD.staff_id, OLD.grant_id, OLD.method, OLD.legal_basis, OLD.result,
            OLD.code_cti, OLD.code_exp, OLD.leaf_hash, OLD.personal_digest) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: UPDATE is refused' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_guard_update();
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_no_update;
ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_no_delete;
ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_no_truncate;

-- The role an application instance should connect as: it may add and read ledger entries, and
-- nothing more on the ledger. (Created once per cluster; granted per database.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'passby_app') THEN
        CREATE ROLE passby_app LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database of this cluster created it at the same moment
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON subjects, api_clients, guardianships, consent_grants, idempotent_lookups,
    subject_generations, offline_codes, staff, staff_sessions TO passby_app;
GRANT SELECT, INSERT ON ledger TO passby_app;
GRANT USAGE ON SEQUENCE ledger_seq_seq TO passby_app;
