-- The sealer runs inside the application: it appends to the tree and stores heads.
GRANT SELECT, INSERT ON ledger_tree, ledger_heads TO passby_app;
