-- Every entry waits in ledger_unsealed until a seal takes it, whatever its age (issue 13,
-- finding 8). The sealer used to look back 10,000 numbers from the last one sealed, so an entry
-- whose transaction committed later than that was never sealed. The insert trigger queues each
-- entry in the entry's own transaction, so the queue's committed rows are exactly the committed
-- entries that no head seals yet, and a seal takes them whatever their number.
CREATE TABLE ledger_unsealed (seq bigint PRIMARY KEY);
INSERT INTO ledger_unsealed SELECT l.seq FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM ledger_tree t WHERE t.seq = l.seq);

CREATE OR REPLACE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('ledger_seq_seq');
    NEW.at := clock_timestamp();
    NEW.personal_digest := sha256(convert_to(ledger_personal_text(NEW), 'UTF8'));
    NEW.purged_at := NULL;
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    INSERT INTO ledger_unsealed (seq) VALUES (NEW.seq);
    RETURN NEW;
END
$$;

GRANT SELECT, INSERT, DELETE ON ledger_unsealed TO passby_app;
