-- Servers cache authenticated API clients; every revocation, by `passby clients revoke` or by
-- hand in SQL, tells them at commit so that they drop the cache (LookupAPI's APIClientCache).
CREATE FUNCTION api_clients_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('passby_api_clients', COALESCE(NEW.id, OLD.id)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_clients_revoked
    AFTER UPDATE OF revoked_at OR DELETE ON api_clients
    FOR EACH ROW EXECUTE FUNCTION api_clients_notify_revoked();
