-- Offline codes: each subject's generation counter and the codes issued, and checkpoint staff.

-- The generation only ever goes up: a replace is one atomic increment.
CREATE TABLE subject_generations (
    subject_key   bytea PRIMARY KEY REFERENCES subjects (subject_key),
    subject_ref   bytea NOT NULL UNIQUE CHECK (octet_length(subject_ref) = 8),
    generation    bigint NOT NULL CHECK (generation >= 1),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The claims of each offline code (masked data only), so that a lost print can be re-printed
-- and the current code re-signed without a new generation.
CREATE TABLE offline_codes (
    id            uuid PRIMARY KEY,
    subject_key   bytea NOT NULL REFERENCES subjects (subject_key),
    generation    bigint NOT NULL,
    claims        bytea NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    UNIQUE (subject_key, generation)
);

CREATE TABLE staff (
    id               uuid PRIMARY KEY,
    username         text NOT NULL UNIQUE,
    password_hash    text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz,
    failed_attempts  integer NOT NULL DEFAULT 0,
    locked_until     timestamptz
);

CREATE TABLE staff_sessions (
    token_hash   bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    staff_id     uuid NOT NULL REFERENCES staff (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
