-- The ledger numbers and dates its entries itself (issue 13, finding 8): the application role
-- could insert any `seq` and backdate `at`. The insert trigger now takes the next number and the
-- clock's time whatever the INSERT says; the column defaults go, so no number is drawn twice.
ALTER TABLE ledger ALTER COLUMN seq DROP DEFAULT;
ALTER TABLE ledger ALTER COLUMN at DROP DEFAULT;

CREATE OR REPLACE FUNCTION ledger_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('ledger_seq_seq');
    NEW.at := clock_timestamp();
    NEW.personal_digest := sha256(convert_to(ledger_personal_text(NEW), 'UTF8'));
    NEW.purged_at := NULL;
    NEW.leaf_hash := sha256('\x00'::bytea || convert_to(ledger_entry_text(NEW), 'UTF8'));
    RETURN NEW;
END
$$;
