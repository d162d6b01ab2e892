-- Subjects and their health statuses, as pushed by the regional gateway.
-- No plain-text ID number or name: the subject key is HMAC-SHA-256 of the normalized ID number
-- under the server secret, and the name is kept only as a keyed hash (for matching) and masked.
CREATE TABLE subjects (
    subject_key  bytea PRIMARY KEY CHECK (octet_length(subject_key) = 32),
    masked_id    text NOT NULL,
    name_hash    bytea NOT NULL CHECK (octet_length(name_hash) = 32),
    masked_name  text NOT NULL,
    status       text NOT NULL CHECK (status IN ('green', 'yellow', 'red')),
    status_as_of timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
