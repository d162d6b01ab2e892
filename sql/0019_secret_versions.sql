-- Versions of the server secret (issue 16). Every keyed hash of personal data is made under one
-- version; a hash under version n+1 is HMAC under that version's secret of the hash under
-- version n, so `passby secret rekey` moves a stored hash to the next version without the plain
-- ID number or name. Each table that keeps keyed hashes records the version of its own (a
-- guardianship's two, a grant's token, grantor and grantee); a grant's subject key is a foreign
-- key to subjects and follows the subject's row when it moves, as the offline-code tables' do.
ALTER TABLE subjects ADD COLUMN secret_version smallint NOT NULL DEFAULT 1 CHECK (secret_version >= 1);
ALTER TABLE guardianships ADD COLUMN secret_version smallint NOT NULL DEFAULT 1 CHECK (secret_version >= 1);
ALTER TABLE consent_grants ADD COLUMN secret_version smallint NOT NULL DEFAULT 1 CHECK (secret_version >= 1);
ALTER TABLE consent_failures ADD COLUMN secret_version smallint NOT NULL DEFAULT 1 CHECK (secret_version >= 1);
ALTER TABLE assertion_bindings ADD COLUMN secret_version smallint NOT NULL DEFAULT 1 CHECK (secret_version >= 1);

-- The ledger is append-only and signed: its entries keep the version they were written with,
-- and a reviewer's filter by ID number tries every version.

ALTER TABLE consent_grants DROP CONSTRAINT consent_grants_subject_key_fkey,
    ADD CONSTRAINT consent_grants_subject_key_fkey FOREIGN KEY (subject_key) REFERENCES subjects (subject_key) ON UPDATE CASCADE;
ALTER TABLE subject_generations DROP CONSTRAINT subject_generations_subject_key_fkey,
    ADD CONSTRAINT subject_generations_subject_key_fkey FOREIGN KEY (subject_key) REFERENCES subjects (subject_key) ON UPDATE CASCADE;
ALTER TABLE offline_codes DROP CONSTRAINT offline_codes_subject_key_fkey,
    ADD CONSTRAINT offline_codes_subject_key_fkey FOREIGN KEY (subject_key) REFERENCES subjects (subject_key) ON UPDATE CASCADE;

-- Rows still under an older version than the current are found by version.
CREATE INDEX subjects_secret_version ON subjects (secret_version);
CREATE INDEX guardianships_secret_version ON guardianships (secret_version);
CREATE INDEX consent_grants_secret_version ON consent_grants (secret_version);

-- The consent check tries each version's hash of the token, subject and requester (the current
-- first). Failures are counted under the current one (the first of p_requesters); a count of the
-- same hour under another version (made before a rotation, not yet moved) counts too.
DROP FUNCTION consent_check(bytea, bytea, bytea, timestamptz, integer, integer);
CREATE FUNCTION consent_check(p_tokens bytea[], p_subjects bytea[], p_requesters bytea[], p_window timestamptz,
                              p_grant_limit integer, p_requester_limit integer, p_version smallint)
RETURNS TABLE (outcome text, grant_id uuid, requester_failures integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_failures integer;
    v_elsewhere integer;
    candidate consent_grants%ROWTYPE;
    has_grant boolean;
BEGIN
    INSERT INTO consent_failures AS f (requester_key, window_start, failures, secret_version)
    VALUES (p_requesters[1], p_window, 0, p_version)
    ON CONFLICT (requester_key) DO UPDATE
        SET failures = CASE WHEN f.window_start = EXCLUDED.window_start THEN f.failures ELSE 0 END,
            window_start = EXCLUDED.window_start
    RETURNING f.failures INTO v_failures;
    SELECT coalesce(sum(failures), 0) INTO v_elsewhere FROM consent_failures
    WHERE requester_key = ANY (p_requesters[2:]) AND window_start = p_window;
    v_failures := v_failures + v_elsewhere;
    IF v_failures >= p_requester_limit THEN
        RETURN QUERY SELECT 'requester-locked'::text, NULL::uuid, v_failures;
        RETURN;
    END IF;
    SELECT * INTO candidate FROM consent_grants WHERE token_hash = ANY (p_tokens) ORDER BY secret_version DESC LIMIT 1 FOR UPDATE;
    has_grant := FOUND;
    IF has_grant AND candidate.subject_key = ANY (p_subjects) AND candidate.failed_tries < p_grant_limit
       AND (candidate.grantee_key IS NULL OR candidate.grantee_key = ANY (p_requesters)) THEN
        RETURN QUERY SELECT 'fits'::text, candidate.id, v_failures;
        RETURN;
    END IF;
    UPDATE consent_failures SET failures = consent_failures.failures + 1 WHERE requester_key = p_requesters[1]
    RETURNING consent_failures.failures + v_elsewhere INTO v_failures;
    IF has_grant THEN
        UPDATE consent_grants SET failed_tries = failed_tries + 1 WHERE id = candidate.id;
    END IF;
    RETURN QUERY SELECT 'unfit'::text, candidate.id, v_failures;
END
$$;
