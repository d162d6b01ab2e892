-- Each real-name assertion is bound to the first API client that sends it (Consent's
-- AssertionBindings): one captured from a helper app is refused through any other client key.
-- Keyed by the server secret's hash of the whole assertion; kept until the assertion expires.
CREATE TABLE assertion_bindings (
    assertion_hash bytea PRIMARY KEY,
    client_id uuid NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX assertion_bindings_expiry ON assertion_bindings (expires_at);
GRANT SELECT, INSERT, DELETE ON assertion_bindings TO passby_app;
