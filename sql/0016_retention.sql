-- Retention (issue 13, finding 10).
--
-- 1. The personal part of each ledger entry gets a per-row salt, erased with it by the purge:
--    an unsalted digest of keyed hashes and masked forms let whoever holds the server secret
--    confirm, long after a purge, who an entry was about. Entries written before keep no salt
--    and their digest as it was.
ALTER TABLE ledger ADD COLUMN personal_salt bytea;

CREATE OR REPLACE FUNCTION ledger_personal_text(l ledger) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN l.personal_salt IS NULL THEN '' ELSE 'salt=' || encode(l.personal_salt, 'hex') || E'\n' END
        || 'requester=' || coalesce(encode(l.requester_key, 'hex'), '') || E'\n'
        || 'requester_masked=' || coalesce(l.requester_masked, '') || E'\n'
        || 'subject=' || coalesce(encode(l.subject_key, 'hex'), '') || E'\n'
        || 'subject_masked=' || coalesce(l.subject_masked, '') || E'\n'
$$;

CREATE OR REPLACE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('ledger_seq_seq');
    NEW.at := clock_timestamp();
    NEW.personal_salt := uuid_send(gen_random_uuid());
    NEW.personal_digest := sha256(convert_to(ledger_personal_text(NEW), 'UTF8'));
    NEW.purged_at := NULL;
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    PERFORM ledger_queue(NEW.seq);
    RETURN NEW;
END
$$;

-- The purge may now erase the salt too; nothing else changes.
CREATE OR REPLACE FUNCTION ledger_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('passby.purge', true) = 'on'
       AND NEW.requester_key IS NULL AND NEW.requester_masked IS NULL AND NEW.subject_key IS NULL AND NEW.subject_masked IS NULL
       AND NEW.personal_salt IS NULL
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

-- 2. One purge for every table that holds personal data, in one transaction, run by the owner
--    (`passby ledger purge`, or `serve` on the schedule PASSBY_RETENTION_DAYS sets). What ended
--    before the cutoff goes:
--    - ledger entries: their personal part and salt (the digest and leaf hash stay, so proofs hold);
--    - grants withdrawn or expired (with their statement);
--    - guardianships removed, or never confirmed (and never holding a saved card, which only a
--      removal retires), with no grant left that names them;
--    - offline codes expired, or replaced by a later generation and issued before the cutoff;
--    - idempotent answers, staff sessions, assertion bindings and failure counts.
--    Subjects (the health authority's current records) and live rows stay: whatever the cutoff,
--    only what has ended by now goes ("horizon"), so a cutoff in the future erases ledger
--    personal fields but never a live grant, session, binding, card or lockout.
CREATE FUNCTION passby_purge(cutoff timestamptz) RETURNS TABLE (item text, erased bigint) LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    horizon timestamptz := least(cutoff, now());
BEGIN
    PERFORM set_config('passby.purge', 'on', true);
    UPDATE ledger SET requester_key = NULL, requester_masked = NULL, subject_key = NULL, subject_masked = NULL,
                      personal_salt = NULL, purged_at = now()
    WHERE at < cutoff AND purged_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'entries'; erased := n; RETURN NEXT;
    PERFORM set_config('passby.purge', 'off', true);

    DELETE FROM consent_grants WHERE withdrawn_at < horizon OR valid_until < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'grants'; erased := n; RETURN NEXT;

    DELETE FROM guardianships g
    WHERE (g.removed_at < horizon
           OR (g.removed_at IS NULL AND g.confirmed_at IS NULL AND g.code_saved_at IS NULL AND g.created_at < horizon))
      AND NOT EXISTS (SELECT 1 FROM consent_grants c WHERE c.guardianship_id = g.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'guardianships'; erased := n; RETURN NEXT;

    DELETE FROM offline_codes o
    WHERE o.expires_at < horizon
       OR (o.issued_at < horizon AND o.generation < (SELECT s.generation FROM subject_generations s WHERE s.subject_key = o.subject_key));
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'offline_codes'; erased := n; RETURN NEXT;

    DELETE FROM idempotent_lookups WHERE created_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'idempotent_answers'; erased := n; RETURN NEXT;

    DELETE FROM staff_sessions WHERE expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'staff_sessions'; erased := n; RETURN NEXT;

    DELETE FROM assertion_bindings WHERE expires_at < horizon;
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'assertion_bindings'; erased := n; RETURN NEXT;

    -- A window is over an hour after it started.
    DELETE FROM consent_failures WHERE window_start < least(cutoff, now() - interval '1 hour');
    GET DIAGNOSTICS n = ROW_COUNT;
    item := 'consent_failures'; erased := n; RETURN NEXT;
END
$$;
-- Only the owner purges: the service's role may not erase what it wrote.
REVOKE ALL ON FUNCTION passby_purge(timestamptz) FROM PUBLIC;
