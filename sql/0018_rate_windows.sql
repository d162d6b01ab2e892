-- Fixed-window rate-limit counters that every instance shares (issue 16): the lookup limits per
-- requester, client and subject, and staff sign-ins per address. One statement counts a hit.
-- Unlogged: a counter is worth no WAL write, and a crash that empties the table forgives at most
-- the current minute. Keys are keyed hashes or client ids, never an ID number.
CREATE UNLOGGED TABLE rate_windows (
    key text PRIMARY KEY CHECK (octet_length(key) <= 200),
    window_start timestamptz NOT NULL,
    hits integer NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_windows TO passby_app;
