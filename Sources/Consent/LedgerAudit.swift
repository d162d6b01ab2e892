import Crypto
import Foundation

/// Recomputes the ledger from its raw rows: each entry's leaf hash from its fields, every signed
/// head's root from the leaves, and every head's signature. Used by `passby ledger verify`.
public enum LedgerAudit {
    /// One entry's fields as text, exactly as the canonical form writes them (see `sql/0005`).
    public struct EntryFields: Sendable {
        public var seq: Int64
        /// The non-personal fields, in canonical order, with `personal` holding the stored digest.
        public var fields: [(String, String)]
        /// salt (absent on entries older than it), requester, requester_masked, subject, subject_masked; nil once purged.
        public var personal: [(String, String)]?
        public var personalDigest: [UInt8]
        public var leafHash: [UInt8]

        public init(seq: Int64, fields: [(String, String)], personal: [(String, String)]?, personalDigest: [UInt8], leafHash: [UInt8]) {
            self.seq = seq
            self.fields = fields
            self.personal = personal
            self.personalDigest = personalDigest
            self.leafHash = leafHash
        }
    }

    /// The canonical entry bytes: `passby-ledger-v1` then one `name=value` line per field.
    public static func entryBytes(_ fields: [(String, String)]) -> [UInt8] {
        Array((["passby-ledger-v1"] + fields.map { "\($0.0)=\($0.1)" }).map { $0 + "\n" }.joined().utf8)
    }

    /// The digest of the personal part: SHA-256 of its `name=value` lines.
    public static func personalDigest(_ fields: [(String, String)]) -> [UInt8] {
        Array(SHA256.hash(data: Array(fields.map { "\($0.0)=\($0.1)\n" }.joined().utf8)))
    }

    /// Everything `ledger verify` reads: heads, the tree's leaf order and nodes, and every entry.
    public struct Snapshot: Sendable {
        public var heads: [TreeHead]
        public var treeOrder: [(index: Int64, seq: Int64)]
        public var nodes: [MerkleNodeRef: MerkleTree.Hash]
        public var entries: [EntryFields]

        public init(heads: [TreeHead], treeOrder: [(index: Int64, seq: Int64)], nodes: [MerkleNodeRef: MerkleTree.Hash], entries: [EntryFields]) {
            self.heads = heads
            self.treeOrder = treeOrder
            self.nodes = nodes
            self.entries = entries
        }
    }

    /// Everything in `snapshot` that does not match, named; empty when the ledger verifies.
    public static func problems(_ snapshot: Snapshot, ledgerKey: Curve25519.Signing.PublicKey) -> [String] {
        problems(entries: snapshot.entries, treeOrder: snapshot.treeOrder, heads: snapshot.heads, nodes: snapshot.nodes, ledgerKey: ledgerKey)
    }

    /// The entries no head seals yet, in sequence order: the newest ones until the next seal,
    /// or one the sealer passed over, which `ledger verify` must show either way.
    public static func unsealed(_ snapshot: Snapshot) -> [Int64] {
        let sealed = Set(snapshot.treeOrder.map(\.seq))
        return snapshot.entries.map(\.seq).filter { !sealed.contains($0) }
    }

    /// Everything that does not match, named; empty when the ledger verifies.
    public static func problems(
        entries: [EntryFields], treeOrder: [(index: Int64, seq: Int64)], heads: [TreeHead], nodes: [MerkleNodeRef: MerkleTree.Hash],
        ledgerKey: Curve25519.Signing.PublicKey
    ) -> [String] {
        var problems: [String] = []
        var leafBySeq: [Int64: [UInt8]] = [:]
        for entry in entries {
            leafBySeq[entry.seq] = entry.leafHash
            if MerkleTree.leafHash(entryBytes(entry.fields)) != entry.leafHash {
                problems.append("entry \(entry.seq): its contents do not match its leaf hash")
            } else if let personal = entry.personal, personalDigest(personal) != entry.personalDigest {
                problems.append("entry \(entry.seq): its personal fields do not match their digest")
            }
        }
        var frontier = MerkleFrontier()
        var roots: [Int: MerkleTree.Hash] = [:]
        let headSizes = Set(heads.map(\.size))
        for (position, node) in treeOrder.enumerated() {
            guard node.index == Int64(position) else {
                problems.append("tree: leaf index \(position) is missing")
                break
            }
            let leaf = leafBySeq[node.seq] ?? Array(repeating: 0, count: 32)
            if leafBySeq[node.seq] == nil {
                problems.append("entry \(node.seq): sealed at leaf \(node.index) but missing from the ledger")
            }
            // The stored nodes that proofs are built from must be the ones the leaves make.
            for (ref, hash) in frontier.appendReturningNodes(leaf) where nodes[ref] != hash {
                problems.append("tree node (level \(ref.level), index \(ref.index)) does not match the entries")
            }
            if headSizes.contains(frontier.size) { roots[frontier.size] = frontier.root }
        }
        for head in heads {
            if !LedgerKey.verify(head, with: ledgerKey) { problems.append("head \(head.size): the signature does not verify") }
            if let root = roots[head.size] {
                if root != head.root { problems.append("head \(head.size): the root does not match the sealed entries") }
            } else {
                problems.append("head \(head.size): the tree has fewer leaves than the head claims")
            }
        }
        return problems
    }
}
