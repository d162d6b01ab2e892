-- A lookup's first two statements in one (issue 17): its rate windows (the requester's, then the
-- client's) are counted as `rate_hit` counts them, and only when none is over its limit is the
-- consent checked, as `consent_check` checks it. A rate-limited lookup is refused before its
-- token is looked at, as before, and its count commits: the statement does not fail.
--
-- Returns the consent check's row, or for a window over its limit the outcome 'rate-limited'
-- with that window's key, start and hits.
CREATE FUNCTION lookup_check(
    p_rate_keys text[], p_rate_limits integer[], p_rate_at timestamptz, p_rate_expired timestamptz,
    p_tokens bytea[], p_subjects bytea[], p_requesters bytea[], p_window timestamptz, p_grant_limit integer, p_requester_limit integer,
    p_version smallint)
RETURNS TABLE (outcome text, grant_id uuid, requester_failures integer, rate_key text, rate_window_start timestamptz, rate_hits integer)
LANGUAGE plpgsql ROWS 1 AS $$
DECLARE
    v_hit record;
BEGIN
    FOR v_hit IN SELECT h.key, h.window_start, h.hits FROM rate_hit(p_rate_keys, p_rate_limits, p_rate_at, p_rate_expired) h LOOP
        IF v_hit.hits > p_rate_limits[array_position(p_rate_keys, v_hit.key)] THEN
            RETURN QUERY SELECT 'rate-limited'::text, NULL::uuid, 0, v_hit.key, v_hit.window_start, v_hit.hits;
            RETURN;
        END IF;
    END LOOP;
    RETURN QUERY SELECT c.outcome, c.grant_id, c.requester_failures, NULL::text, NULL::timestamptz, NULL::integer
                 FROM consent_check(p_tokens, p_subjects, p_requesters, p_window, p_grant_limit, p_requester_limit, p_version) c;
END
$$;
