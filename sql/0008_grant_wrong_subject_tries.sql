-- A live consent token tried with another person's ID number counts a failed try; at
-- ConsentGrant.wrongSubjectTryLimit the token is locked for good (consent-locked), so a stolen
-- token cannot be used to confirm, one guess at a time, whose ID number it was given for.
ALTER TABLE consent_grants ADD COLUMN wrong_subject_tries integer NOT NULL DEFAULT 0;
