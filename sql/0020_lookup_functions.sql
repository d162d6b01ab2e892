-- The lookup's statements as functions (issue 17). PL/pgSQL prepares each statement inside a
-- function once per connection and keeps its plan, where the same SQL sent as an unnamed
-- statement was parsed and planned on every lookup. Same rules as the statements they replace.

-- Counts one hit for each key in order, each only while every key before it is within its limit
-- (a requester over their limit does not use up their client's window for everyone else).
-- A window that started at or before p_expired starts again at p_at. Returns the counted keys.
CREATE FUNCTION rate_hit(p_keys text[], p_limits integer[], p_at timestamptz, p_expired timestamptz)
RETURNS TABLE (key text, window_start timestamptz, hits integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_index integer;
BEGIN
    FOR v_index IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        INSERT INTO rate_windows AS w (key, window_start, hits) VALUES (p_keys[v_index], p_at, 1)
        ON CONFLICT ON CONSTRAINT rate_windows_pkey DO UPDATE
            SET window_start = CASE WHEN w.window_start <= p_expired THEN excluded.window_start ELSE w.window_start END,
                hits = CASE WHEN w.window_start <= p_expired THEN 1 ELSE w.hits + 1 END
        RETURNING w.key, w.window_start, w.hits INTO key, window_start, hits;
        RETURN NEXT;
        EXIT WHEN hits > p_limits[v_index];
    END LOOP;
END
$$;

-- Takes one use of a grant and writes the issued ledger record (and the answer for retries) in
-- one step, only if the grant still serves this subject and requester (their hashes under every
-- version a lookup tries) at p_now. Returns 1 if the use was taken, 0 if not; an idempotency key
-- stored already raises unique_violation and nothing is taken.
CREATE FUNCTION consume_grant(
    p_grant uuid, p_subjects bytea[], p_requesters bytea[], p_now timestamptz, p_failed_limit integer,
    p_kind text, p_client uuid, p_staff uuid, p_requester_key bytea, p_requester_masked text, p_subject_key bytea,
    p_subject_masked text, p_grant_id uuid, p_method text, p_legal_basis text, p_result text, p_code_cti bytea, p_code_exp timestamptz,
    p_answer_client uuid, p_answer_key text, p_answer_hash bytea, p_answer_claims bytea)
RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE consent_grants g SET uses = g.uses + 1
    WHERE g.id = p_grant AND g.subject_key = ANY (p_subjects) AND g.withdrawn_at IS NULL
      AND (g.guardianship_id IS NULL OR EXISTS (SELECT 1 FROM guardianships x WHERE x.id = g.guardianship_id AND x.removed_at IS NULL
                                                AND x.confirmed_at IS NOT NULL))
      AND g.valid_from <= p_now AND g.valid_until > p_now AND g.uses < g.max_uses AND g.failed_tries < p_failed_limit
      AND (g.grantee_key IS NULL OR g.grantee_key = ANY (p_requesters));
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    INSERT INTO ledger (kind, client_id, staff_id, requester_key, requester_masked, subject_key, subject_masked, grant_id,
                        method, legal_basis, result, code_cti, code_exp)
    VALUES (p_kind, p_client, p_staff, p_requester_key, p_requester_masked, p_subject_key, p_subject_masked, p_grant_id,
            p_method, p_legal_basis, p_result, p_code_cti, p_code_exp);
    IF p_answer_key IS NOT NULL THEN
        INSERT INTO idempotent_lookups (client_id, key, request_hash, claims)
        VALUES (p_answer_client, p_answer_key, p_answer_hash, p_answer_claims);
    END IF;
    RETURN 1;
END
$$;

-- The consent check writes nothing for a token that fits. Each try of one requester, and each
-- try of one token, is still serialised (issue 13, finding 3): by transaction-scoped advisory
-- locks on their hashes, where an upserted zero-count row and a row lock on the grant did it
-- before and cost a heap write and a WAL flush on every lookup. The hashes under every version a
-- lookup tries are locked, requesters first, each list in one order: two instances that hold
-- different current versions during a rotation still meet on a common lock. The count and the
-- grant are read after the locks, so each try sees every one that finished before it.
CREATE FUNCTION consent_lock(p_class integer, p_hashes bytea[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_key integer;
BEGIN
    IF coalesce(cardinality(p_hashes), 0) = 0 THEN
        RAISE EXCEPTION 'consent_lock: no hash to lock' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key IN SELECT DISTINCT hashtext(encode(h, 'hex')) FROM unnest(p_hashes) h WHERE octet_length(h) > 0 ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(p_class, v_key);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION consent_check(p_tokens bytea[], p_subjects bytea[], p_requesters bytea[], p_window timestamptz,
                                         p_grant_limit integer, p_requester_limit integer, p_version smallint)
RETURNS TABLE (outcome text, grant_id uuid, requester_failures integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_failures integer;
    candidate consent_grants%ROWTYPE;
    has_grant boolean;
BEGIN
    PERFORM consent_lock(1163412803, p_requesters);
    -- Text that is no token arrives as an empty hash: it names no grant, so it takes no token lock
    -- (one shared lock would let such tries queue every requester behind each other).
    IF EXISTS (SELECT 1 FROM unnest(p_tokens) h WHERE octet_length(h) > 0) THEN
        PERFORM consent_lock(1163412804, p_tokens);
    END IF;
    SELECT coalesce(sum(f.failures), 0) INTO v_failures FROM consent_failures f
    WHERE f.requester_key = ANY (p_requesters) AND f.window_start = p_window;
    IF v_failures >= p_requester_limit THEN
        RETURN QUERY SELECT 'requester-locked'::text, NULL::uuid, v_failures;
        RETURN;
    END IF;
    SELECT * INTO candidate FROM consent_grants WHERE token_hash = ANY (p_tokens) ORDER BY secret_version DESC LIMIT 1;
    has_grant := FOUND;
    IF has_grant AND candidate.subject_key = ANY (p_subjects) AND candidate.failed_tries < p_grant_limit
       AND (candidate.grantee_key IS NULL OR candidate.grantee_key = ANY (p_requesters)) THEN
        RETURN QUERY SELECT 'fits'::text, candidate.id, v_failures;
        RETURN;
    END IF;
    v_failures := consent_failure_counted(p_requesters, p_window, p_version, candidate.id);
    RETURN QUERY SELECT 'unfit'::text, candidate.id, v_failures;
END
$$;

-- Counts one failed consent try for the requester (under the first hash) and on the grant, if
-- any, and returns the requester's count this hour under every hash. Called by consent_check,
-- and alone (an attested grant for someone unknown), under the same requester locks.
CREATE FUNCTION consent_failure_counted(p_requesters bytea[], p_window timestamptz, p_version smallint, p_grant uuid)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_failures integer;
BEGIN
    PERFORM consent_lock(1163412803, p_requesters);
    INSERT INTO consent_failures AS f (requester_key, window_start, failures, secret_version)
    VALUES (p_requesters[1], p_window, 1, p_version)
    ON CONFLICT (requester_key) DO UPDATE
        SET failures = CASE WHEN f.window_start = EXCLUDED.window_start THEN f.failures + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start;
    IF p_grant IS NOT NULL THEN
        UPDATE consent_grants SET failed_tries = failed_tries + 1 WHERE id = p_grant;
    END IF;
    SELECT coalesce(sum(f.failures), 0) INTO v_failures FROM consent_failures f
    WHERE f.requester_key = ANY (p_requesters) AND f.window_start = p_window;
    RETURN v_failures;
END
$$;
