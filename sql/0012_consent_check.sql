-- The consent check of a lookup, decided and counted in one step (issue 13, finding 3). Reading
-- the counters first and counting afterwards let a burst of guesses all read "no failures yet";
-- here the requester's row and the grant's row are locked while the decision is made, so each
-- try of one requester, and each try of one token, sees every try before it.
--
-- Outcomes: `requester-locked` (the requester has p_requester_limit failures this hour),
-- `fits` (the token names this person and, if it names a grantee, this requester, and is not
-- locked; its state is read next), or `unfit` (unknown, another person's, someone else's or
-- locked), which counts one failure for the requester and one on the grant.
CREATE FUNCTION consent_check(p_token bytea, p_subject bytea, p_requester bytea, p_window timestamptz,
                              p_grant_limit integer, p_requester_limit integer)
RETURNS TABLE (outcome text, grant_id uuid, requester_failures integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_failures integer;
    candidate consent_grants%ROWTYPE;
    has_grant boolean;
BEGIN
    INSERT INTO consent_failures AS f (requester_key, window_start, failures) VALUES (p_requester, p_window, 0)
    ON CONFLICT (requester_key) DO UPDATE
        SET failures = CASE WHEN f.window_start = EXCLUDED.window_start THEN f.failures ELSE 0 END,
            window_start = EXCLUDED.window_start
    RETURNING f.failures INTO v_failures;
    IF v_failures >= p_requester_limit THEN
        RETURN QUERY SELECT 'requester-locked'::text, NULL::uuid, v_failures;
        RETURN;
    END IF;
    SELECT * INTO candidate FROM consent_grants WHERE token_hash = p_token FOR UPDATE;
    has_grant := FOUND;
    IF has_grant AND candidate.subject_key = p_subject AND candidate.failed_tries < p_grant_limit
       AND (candidate.grantee_key IS NULL OR candidate.grantee_key = p_requester) THEN
        RETURN QUERY SELECT 'fits'::text, candidate.id, v_failures;
        RETURN;
    END IF;
    UPDATE consent_failures SET failures = consent_failures.failures + 1 WHERE requester_key = p_requester
    RETURNING consent_failures.failures INTO v_failures;
    IF has_grant THEN
        UPDATE consent_grants SET failed_tries = failed_tries + 1 WHERE id = candidate.id;
    END IF;
    RETURN QUERY SELECT 'unfit'::text, candidate.id, v_failures;
END
$$;
