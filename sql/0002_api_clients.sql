-- API clients. A key is shown once at creation; only its SHA-256 is stored (keys carry 256
-- random bits, so a fast hash is as safe as a slow one and keeps authentication cheap).
CREATE TABLE api_clients (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('helper', 'gateway', 'guardian', 'terminal', 'reviewer', 'checkpoint')),
    key_hash   bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
