-- Key material shared by every instance on this database (issue 16): the server secret, the
-- code-signing keys, the ledger key, the receipt key and the demo provider's key, each sealed
-- with AES-GCM under the key-encryption key (PASSBY_KEK), which the database never sees. The
-- entry's name is authenticated with it, so a sealed value moved to another name does not open.
CREATE TABLE key_material (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9:_-]{1,100}$'),
    sealed bytea NOT NULL CHECK (octet_length(sealed) BETWEEN 29 AND 65536),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The owner writes (serve's start-up, `passby keys …`); the service's role only reads, so a
-- compromised service cannot plant a key for the other instances.
GRANT SELECT ON key_material TO passby_app;

-- Every instance listens, and reloads at once (it also polls, should a notice be lost).
CREATE FUNCTION key_material_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('passby_key_material', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER key_material_changed AFTER INSERT OR UPDATE OR DELETE ON key_material
    FOR EACH STATEMENT EXECUTE FUNCTION key_material_changed();
