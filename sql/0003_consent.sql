-- Family members (guardianships), consent grants, the consent ledger and idempotent answers.
-- Every person appears only as a keyed hash (HMAC-SHA-256 under the server secret) and a masked form.

CREATE TABLE guardianships (
    id                  uuid PRIMARY KEY,
    guardian_key        bytea NOT NULL CHECK (octet_length(guardian_key) = 32),
    guardian_masked_id  text NOT NULL,
    subject_key         bytea NOT NULL REFERENCES subjects (subject_key),
    relationship        text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    removed_at          timestamptz
);
CREATE UNIQUE INDEX guardianships_active_pair ON guardianships (guardian_key, subject_key) WHERE removed_at IS NULL;
CREATE INDEX guardianships_active_subject ON guardianships (subject_key) WHERE removed_at IS NULL;

CREATE TABLE consent_grants (
    id                uuid PRIMARY KEY,
    token_hash        bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    subject_key       bytea NOT NULL REFERENCES subjects (subject_key),
    grantor_key       bytea NOT NULL CHECK (octet_length(grantor_key) = 32),
    grantor_relation  text NOT NULL CHECK (grantor_relation IN ('self', 'guardian', 'attested')),
    guardianship_id   uuid REFERENCES guardianships (id),
    grantee_key       bytea CHECK (octet_length(grantee_key) = 32),
    purpose           text NOT NULL DEFAULT 'display-health-code',
    legal_basis       text NOT NULL CHECK (legal_basis IN ('consent', 'public-health-emergency')),
    method            text NOT NULL CHECK (method IN ('guardian-app', 'terminal', 'attested-verbal')),
    statement         text,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    max_uses          integer NOT NULL CHECK (max_uses >= 1),
    uses              integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    withdrawn_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_grants_attested_by ON consent_grants (grantor_key, created_at) WHERE method = 'attested-verbal';

-- The consent ledger: one row per act, append-only (a later migration seals it).
CREATE TABLE ledger (
    seq               bigserial PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('grant-created', 'grant-withdrawn', 'family-member-added',
                                                    'family-member-removed', 'lookup-issued', 'lookup-refused', 'verification',
                                                    'offline-code-issued', 'offline-code-replaced', 'review', 'purge')),
    at                timestamptz NOT NULL DEFAULT clock_timestamp(),
    client_id         uuid,
    -- The checkpoint staff member, for verifications made through a staff session.
    staff_id          uuid,
    requester_key     bytea,
    requester_masked  text,
    subject_key       bytea,
    subject_masked    text,
    grant_id          uuid,
    method            text,
    legal_basis       text,
    result            text NOT NULL,
    code_cti          bytea,
    code_exp          timestamptz
);
CREATE INDEX ledger_grant ON ledger (grant_id);
CREATE INDEX ledger_subject ON ledger (subject_key, seq);

-- Answers to POST /v1/lookups kept for retries with the same Idempotency-Key (24 h). The claims
-- hold masked data only; a retry signs them again, giving the same code.
CREATE TABLE idempotent_lookups (
    client_id     uuid NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    claims        bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);
