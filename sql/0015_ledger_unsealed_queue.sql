-- Every entry waits in ledger_unsealed until a seal takes it, whatever its age (issue 13,
-- finding 8). The sealer used to look back 10,000 numbers from the last one sealed, so an entry
-- whose transaction committed later than that was never sealed. The insert trigger queues each
-- entry in the entry's own transaction, so the queue's committed rows are exactly the committed
-- entries that no head seals yet, and a seal takes them whatever their number.
CREATE TABLE ledger_unsealed (seq bigint PRIMARY KEY);
INSERT INTO ledger_unsealed SELECT l.seq FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM ledger_tree t WHERE t.seq = l.seq);

-- The queue belongs to the owner: the service's role neither adds to it nor takes from it
-- directly, so it cannot keep an entry out of the tree. The trigger queues through
-- ledger_queue, and the sealer dequeues through ledger_dequeue_sealed, which removes only entries
-- the tree already holds. Both run with the owner's rights.
CREATE FUNCTION ledger_queue(entry bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- Only the ledger's insert trigger queues: called directly, it could only plant numbers.
    IF pg_trigger_depth() = 0 THEN
        RAISE EXCEPTION 'ledger_queue runs from the ledger''s insert trigger only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO ledger_unsealed (seq) VALUES (entry) ON CONFLICT DO NOTHING;
END
$$;
CREATE FUNCTION ledger_dequeue_sealed() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM ledger_unsealed u WHERE EXISTS (SELECT 1 FROM ledger_tree t WHERE t.seq = u.seq);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION ledger_queue(bigint), ledger_dequeue_sealed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_queue(bigint), ledger_dequeue_sealed() TO passby_app;

CREATE OR REPLACE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('ledger_seq_seq');
    NEW.at := clock_timestamp();
    NEW.personal_digest := sha256(convert_to(ledger_personal_text(NEW), 'UTF8'));
    NEW.purged_at := NULL;
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    PERFORM ledger_queue(NEW.seq);
    RETURN NEW;
END
$$;

GRANT SELECT ON ledger_unsealed TO passby_app;
