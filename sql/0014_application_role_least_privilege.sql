-- The service's role creates no API clients and no staff accounts: operators do, as the owner,
-- with `passby clients add` and `passby staff add` (and `passby serve` seeds its own with the
-- owner's connection). Of a staff row the service changes only the login counters.
REVOKE INSERT, UPDATE, DELETE ON api_clients FROM passby_app;
REVOKE INSERT, UPDATE, DELETE ON staff FROM passby_app;
GRANT UPDATE (failed_attempts, failures_since, locked_until) ON staff TO passby_app;
