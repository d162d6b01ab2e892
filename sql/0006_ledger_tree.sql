-- The Merkle tree over the ledger (RFC 9162) and its signed tree heads.
-- Leaves enter the tree in the order the sealer takes them (by seq, and a late-committing entry
-- with a lower seq at the next seal); ledger_tree records each entry's leaf index.
CREATE TABLE ledger_tree (
    leaf_index  bigint PRIMARY KEY,
    seq         bigint NOT NULL UNIQUE REFERENCES ledger (seq)
);

-- A signed tree head, with the tree's frontier so that the next seal costs O(new entries + log n).
CREATE TABLE ledger_heads (
    size        bigint PRIMARY KEY,
    root        bytea NOT NULL CHECK (octet_length(root) = 32),
    sealed_at   timestamptz NOT NULL,
    kid         text NOT NULL,
    signature   bytea NOT NULL,
    frontier    bytea[] NOT NULL,
    last_seq    bigint NOT NULL
);

-- Every perfect subtree root, written by the sealer as it forms, so that an inclusion or
-- consistency proof reads O(log² n) nodes instead of every leaf.
CREATE TABLE ledger_nodes (
    level  integer NOT NULL,
    idx    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- The sealer runs inside the application.
GRANT SELECT, INSERT ON ledger_tree, ledger_heads, ledger_nodes TO passby_app;
