-- Reviewer queries are themselves ledger entries.
ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN ('grant-created', 'grant-withdrawn', 'family-member-added',
    'family-member-removed', 'lookup-issued', 'lookup-refused', 'verification', 'offline-code-issued', 'offline-code-replaced',
    'review', 'purge'));
CREATE INDEX ledger_tree_seq ON ledger_tree (seq);
