-- Guardianship is established, not declared (issue 13, finding 4). A registration is pending,
-- and can do nothing for the subject, until a gateway (household-registry data), the subject in
-- person at a terminal, or a relationship claim in the guardian's assertion confirms it.
--
-- A pending registration may name someone Passby does not know yet, so the answer to a
-- registration never says whether a person exists or a name fits: the subject's masked forms are
-- kept here, from the ID number and the name the guardian gave.
ALTER TABLE guardianships DROP CONSTRAINT guardianships_subject_key_fkey;
ALTER TABLE guardianships
    ADD COLUMN subject_masked_id text,
    ADD COLUMN subject_masked_name text,
    ADD COLUMN confirmed_by text CHECK (confirmed_by IN ('gateway', 'terminal', 'assertion')),
    ADD COLUMN confirmed_at timestamptz,
    -- Set when the guardian saved or printed the subject's offline code: removing the
    -- guardianship then starts a new generation, so the card they hold stops working.
    ADD COLUMN code_saved_at timestamptz,
    ADD CONSTRAINT guardianships_confirmed CHECK ((confirmed_by IS NULL) = (confirmed_at IS NULL));
UPDATE guardianships g SET subject_masked_id = s.masked_id, subject_masked_name = s.masked_name
FROM subjects s WHERE s.subject_key = g.subject_key;
ALTER TABLE guardianships ALTER COLUMN subject_masked_id SET NOT NULL, ALTER COLUMN subject_masked_name SET NOT NULL;
-- Registrations made before confirmation existed were only declared: they stay, pending. Any of
-- them may have saved the person's card, so each counts as having done so: removing one ends
-- the generation, and the card a declared guardian holds stops working.
UPDATE guardianships SET code_saved_at = created_at WHERE removed_at IS NULL;

-- New kinds: a confirmation; the generation a removal retired; and the refusals of the family,
-- consent and offline-code routes, recorded like the lookup's once the caller is known.
ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN (
    'grant-created', 'grant-withdrawn', 'grant-refused', 'family-member-added', 'family-member-confirmed',
    'family-member-removed', 'family-member-refused', 'lookup-issued', 'lookup-refused', 'verification',
    'offline-code-issued', 'offline-code-replaced', 'offline-code-retired', 'offline-code-refused', 'review', 'purge'));
