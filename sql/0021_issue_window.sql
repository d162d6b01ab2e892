-- A lookup's third and last statement (issue 17): the subject's window of codes issued is looked
-- at and counted in the transaction that takes the use, where two more statements did it before
-- (a read before `consume_grant`, a `rate_hit` after it). An advisory lock on the window's key is
-- taken first, so concurrent lookups of one subject each see the ones that committed before them:
-- the limit can no longer be passed by lookups that read the window at the same moment. (A row
-- lock could not do it: the window's row may not exist yet, and a lookup that found none would
-- take the grant's row lock before the window's, the other order, and deadlock.)
--
-- Returns taken = 1 when the use was taken (and counted), 0 when the grant refused (nothing
-- counted), -1 when the window was full (nothing taken); with the window's start and hits.
-- Without a window key (NULL) it only takes the use, as `consume_grant` does.
CREATE FUNCTION consume_grant_counted(
    p_window_key text, p_window_limit integer, p_window_expired timestamptz,
    p_grant uuid, p_subjects bytea[], p_requesters bytea[], p_now timestamptz, p_failed_limit integer,
    p_kind text, p_client uuid, p_staff uuid, p_requester_key bytea, p_requester_masked text, p_subject_key bytea,
    p_subject_masked text, p_grant_id uuid, p_method text, p_legal_basis text, p_result text, p_code_cti bytea, p_code_exp timestamptz,
    p_answer_client uuid, p_answer_key text, p_answer_hash bytea, p_answer_claims bytea)
RETURNS TABLE (taken integer, window_start timestamptz, hits integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_start timestamptz;
    v_hits integer;
BEGIN
    IF p_window_key IS NULL THEN
        RETURN QUERY SELECT consume_grant(p_grant, p_subjects, p_requesters, p_now, p_failed_limit, p_kind, p_client, p_staff,
                                          p_requester_key, p_requester_masked, p_subject_key, p_subject_masked, p_grant_id, p_method,
                                          p_legal_basis, p_result, p_code_cti, p_code_exp, p_answer_client, p_answer_key, p_answer_hash,
                                          p_answer_claims), NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(1163412805, hashtext(p_window_key));
    SELECT w.window_start, w.hits INTO v_start, v_hits FROM rate_windows w WHERE w.key = p_window_key;
    IF FOUND AND v_start > p_window_expired AND v_hits >= p_window_limit THEN
        RETURN QUERY SELECT -1, v_start, v_hits;
        RETURN;
    END IF;
    IF consume_grant(p_grant, p_subjects, p_requesters, p_now, p_failed_limit, p_kind, p_client, p_staff, p_requester_key,
                     p_requester_masked, p_subject_key, p_subject_masked, p_grant_id, p_method, p_legal_basis, p_result, p_code_cti,
                     p_code_exp, p_answer_client, p_answer_key, p_answer_hash, p_answer_claims) = 0 THEN
        RETURN QUERY SELECT 0, v_start, v_hits;
        RETURN;
    END IF;
    RETURN QUERY SELECT 1, h.window_start, h.hits
                 FROM rate_hit(ARRAY[p_window_key], ARRAY[p_window_limit], p_now, p_window_expired) h;
END
$$;
