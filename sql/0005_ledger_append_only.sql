-- The ledger is append-only, and each entry gets its RFC 9162 leaf hash as it is written.
--
-- Canonical entry bytes (version 1): UTF-8 text, one "name=value" line per field in this order,
-- each line ending in "\n", absent values empty, keys and hashes in lower-case hex, UUIDs in
-- lower case, times in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ:
--   passby-ledger-v1, seq, kind, at, client, staff, requester, requester_masked, subject,
--   subject_masked, grant, method, basis, result, cti, exp
-- leaf_hash = SHA-256(0x00 || entry bytes). Anyone can recompute it with standard SHA-256.

ALTER TABLE ledger ADD COLUMN leaf_hash bytea;

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
        || 'requester=' || coalesce(encode(l.requester_key, 'hex'), '') || E'\n'
        || 'requester_masked=' || coalesce(l.requester_masked, '') || E'\n'
        || 'subject=' || coalesce(encode(l.subject_key, 'hex'), '') || E'\n'
        || 'subject_masked=' || coalesce(l.subject_masked, '') || E'\n'
        || 'grant=' || coalesce(l.grant_id::text, '') || E'\n'
        || 'method=' || coalesce(l.method, '') || E'\n'
        || 'basis=' || coalesce(l.legal_basis, '') || E'\n'
        || 'result=' || l.result || E'\n'
        || 'cti=' || coalesce(encode(l.code_cti, 'hex'), '') || E'\n'
        || 'exp=' || coalesce(ledger_time(l.code_exp), '') || E'\n'
$$;

CREATE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    RETURN NEW;
END
$$;
CREATE TRIGGER ledger_leaf BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_leaf();
ALTER TABLE ledger ENABLE ALWAYS TRIGGER ledger_leaf;

-- Guards: no UPDATE, DELETE or TRUNCATE, for every role, even with session_replication_role =
-- replica (ENABLE ALWAYS). The retention purge (a later migration) is the one sanctioned path.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
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
