-- Every perfect subtree root of the ledger's tree, written by the sealer as it forms, so that an
-- inclusion or consistency proof reads O(log² n) nodes instead of every leaf.
CREATE TABLE ledger_nodes (
    level  integer NOT NULL,
    idx    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);
GRANT SELECT, INSERT ON ledger_nodes TO passby_app;
