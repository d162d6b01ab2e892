import Crypto
import Foundation

/// One sealed leaf as `ledger verify` reads it: its index, the entry's sequence number, and the
/// entry (nil when the ledger lacks it).
public struct SealedLeaf: Sendable {
    public var index: Int64
    public var seq: Int64
    public var entry: LedgerAudit.EntryFields?

    public init(index: Int64, seq: Int64, entry: LedgerAudit.EntryFields?) {
        self.index = index
        self.seq = seq
        self.entry = entry
    }
}

/// What `passby ledger verify` reads, a batch at a time, so that it never holds the ledger.
public protocol LedgerAuditSource: Sendable {
    /// How many leaves the tree holds.
    func leafCount() async throws -> Int
    /// How many entries the ledger holds, sealed or not.
    func entryCount() async throws -> Int
    /// The leaves with index in `range`, in leaf order, each with its entry.
    func sealedLeaves(_ range: Range<Int64>) async throws -> [SealedLeaf]
    /// Entries no leaf holds, in sequence order, after `seq`, at most `limit`.
    func unsealedEntries(after seq: Int64, limit: Int) async throws -> [LedgerAudit.EntryFields]
    /// The heads whose size is in `sizes`, smallest first.
    func heads(sizes: ClosedRange<Int>) async throws -> [TreeHead]
    func head(size: Int) async throws -> TreeHead?
    func nodes(_ refs: Set<MerkleNodeRef>) async throws -> [MerkleNodeRef: MerkleTree.Hash]
}

/// The ledger recomputed as it streams past, in bounded memory: a frontier, the nodes and heads
/// of the current batch, and at most `LedgerAudit.listLimit` named problems and unsealed entries.
/// Each entry's leaf hash and personal digest, every stored tree node, every head's root and
/// signature are checked. It may start from a signed head instead of the empty tree: the head's
/// signature must verify and its stored frontier must fold to its signed root.
public struct LedgerAuditor: Sendable {
    public private(set) var report = LedgerAudit.Report()
    private var frontier = MerkleFrontier()
    private var produced: [(MerkleNodeRef, MerkleTree.Hash)] = []
    private var pendingHeads: [Int: TreeHead] = [:]
    private var broken = false
    private let ledgerKey: Curve25519.Signing.PublicKey

    public init(ledgerKey: Curve25519.Signing.PublicKey) {
        self.ledgerKey = ledgerKey
    }

    /// The leaves seen so far (or the starting head's size).
    public var size: Int { frontier.size }

    /// Starts from `head` instead of the empty tree; false (and a problem) if it cannot be trusted.
    public mutating func start(at head: TreeHead) -> Bool {
        guard let start = MerkleFrontier(validating: head.size, nodes: head.frontier) else {
            problem("head \(head.size): its stored frontier is not one a tree of its size has, so verification cannot start from it")
            return false
        }
        guard LedgerKey.verify(head, with: ledgerKey) else {
            problem("head \(head.size): the signature does not verify, so verification cannot start from it")
            return false
        }
        guard start.root == head.root else {
            problem("head \(head.size): its stored frontier does not fold to its signed root, so verification cannot start from it")
            return false
        }
        frontier = start
        report.startSize = head.size
        report.lastHeadSize = head.size
        return true
    }

    /// Heads to check once the tree reaches their size.
    public mutating func expect(_ heads: [TreeHead]) {
        for head in heads where head.size > frontier.size { pendingHeads[head.size] = head }
    }

    /// The next sealed leaf.
    public mutating func seal(_ leaf: SealedLeaf) {
        guard !broken else { return }
        guard leaf.index == Int64(frontier.size) else {
            problem("tree: leaf index \(frontier.size) is missing")
            broken = true
            return
        }
        let hash: MerkleTree.Hash
        if let entry = leaf.entry {
            check(entry)
            hash = entry.leafHash
        } else {
            problem("entry \(leaf.seq): sealed at leaf \(leaf.index) but missing from the ledger")
            report.missingEntries += 1
            hash = Array(repeating: 0, count: 32)
        }
        produced += frontier.appendReturningNodes(hash)
        report.leaves += 1
        if let head = pendingHeads.removeValue(forKey: frontier.size) { checkHead(head) }
    }

    /// An entry that no leaf holds yet.
    public mutating func unsealed(_ entry: LedgerAudit.EntryFields) {
        check(entry)
        if report.unsealed.count < LedgerAudit.listLimit { report.unsealed.append(entry.seq) }
        report.unsealedFirst = report.unsealedFirst ?? entry.seq
        report.unsealedLast = entry.seq
        report.unsealedCount += 1
    }

    /// The tree nodes the leaves since the last call completed, to be compared with the stored ones.
    public mutating func takeProducedNodes() -> [(MerkleNodeRef, MerkleTree.Hash)] {
        defer { produced.removeAll(keepingCapacity: true) }
        return produced
    }

    /// The stored nodes that proofs are built from must be the ones the leaves make.
    public mutating func compare(_ made: [(MerkleNodeRef, MerkleTree.Hash)], stored: [MerkleNodeRef: MerkleTree.Hash]) {
        for (ref, hash) in made where stored[ref] != hash {
            problem("tree node (level \(ref.level), index \(ref.index)) does not match the entries")
        }
    }

    /// The report, with every head still waiting named: the tree never reached its size.
    public mutating func finish() -> LedgerAudit.Report {
        for size in pendingHeads.keys.sorted() {
            let head = pendingHeads[size]!
            if !LedgerKey.verify(head, with: ledgerKey) { problem("head \(size): the signature does not verify") }
            problem("head \(size): the tree has fewer leaves than the head claims")
        }
        pendingHeads = [:]
        return report
    }

    private mutating func check(_ entry: LedgerAudit.EntryFields) {
        report.entriesChecked += 1
        if MerkleTree.leafHash(LedgerAudit.entryBytes(entry.fields)) != entry.leafHash {
            problem("entry \(entry.seq): its contents do not match its leaf hash")
        } else if let personal = entry.personal, LedgerAudit.personalDigest(personal) != entry.personalDigest {
            problem("entry \(entry.seq): its personal fields do not match their digest")
        }
    }

    private mutating func checkHead(_ head: TreeHead) {
        if !LedgerKey.verify(head, with: ledgerKey) { problem("head \(head.size): the signature does not verify") }
        if frontier.root != head.root { problem("head \(head.size): the root does not match the sealed entries") }
        // The next seal, and a verification that starts here, go on from the stored frontier.
        if frontier.nodes != head.frontier { problem("head \(head.size): its stored frontier does not match the sealed entries") }
        report.headsChecked += 1
        report.lastHeadSize = head.size
    }

    /// A problem found outside the leaves themselves.
    public mutating func note(_ text: String) { problem(text) }

    private mutating func problem(_ text: String) {
        if report.problems.count < LedgerAudit.listLimit { report.problems.append(text) }
        report.problemCount += 1
    }
}

extension LedgerAudit {
    /// At most this many problems and unsealed entries are named; the rest are counted.
    public static let listLimit = 1000

    /// What `ledger verify` found.
    public struct Report: Sendable {
        /// The first `listLimit` problems, and how many there were.
        public var problems: [String] = []
        public var problemCount = 0
        /// The first `listLimit` entries no head seals yet, and how many there are.
        public var unsealed: [Int64] = []
        public var unsealedCount = 0
        public var unsealedFirst: Int64?
        public var unsealedLast: Int64?
        public var entriesChecked = 0
        public var leaves = 0
        /// Leaves whose entry the ledger lacks.
        public var missingEntries = 0
        public var headsChecked = 0
        /// The head verification started from (0: the empty tree), and the newest head checked.
        public var startSize = 0
        public var lastHeadSize: Int?

        public init() {}
    }

    /// How far a verification has come: leaves checked out of the tree's.
    public struct Progress: Sendable {
        public var leaves: Int
        public var total: Int
    }

    /// Verifies the ledger `source` holds, `batchSize` leaves at a time, from the empty tree or
    /// from the head of size `from`. `progress` hears after every batch.
    public static func verify(
        _ source: some LedgerAuditSource, ledgerKey: Curve25519.Signing.PublicKey, from: Int? = nil, batchSize: Int = 16_384,
        progress: (Progress) -> Void = { _ in }
    ) async throws -> Report {
        var auditor = LedgerAuditor(ledgerKey: ledgerKey)
        if let from {
            guard let head = try await source.head(size: from) else { throw UnknownHead(size: from) }
            guard auditor.start(at: head) else { return auditor.finish() }
        }
        let total = try await source.leafCount()
        if total < auditor.size { auditor.note("tree: \(total) leaves, fewer than head \(auditor.size) seals") }
        var next = Int64(auditor.size)
        while next < Int64(total) {
            let end = min(next + Int64(batchSize), Int64(total))
            auditor.expect(try await source.heads(sizes: Int(next) + 1...Int(end)))
            for leaf in try await source.sealedLeaves(next..<end) { auditor.seal(leaf) }
            let made = auditor.takeProducedNodes()
            auditor.compare(made, stored: try await source.nodes(Set(made.map(\.0))))
            next = end
            progress(Progress(leaves: Int(end), total: total))
        }
        // A head larger than the tree is a head the tree never reached. The ledger may have grown
        // meanwhile: heads are read before the leaves are counted again (a seal stores its leaves
        // and its head together), and only those larger than the tree is now are held against it.
        let later = try await source.heads(sizes: total + 1...Int.max)
        let grown = try await source.leafCount()
        auditor.expect(later.filter { $0.size > grown })
        // A seal stores its leaves and its head together: leaves past the newest head mean a head was removed.
        if total > auditor.report.startSize, (auditor.report.lastHeadSize ?? 0) < total, later.isEmpty {
            auditor.note("tree: leaves \((auditor.report.lastHeadSize ?? 0) + 1) to \(total) are sealed by no head")
        }
        // Every tree leaf names a distinct entry (`ledger_tree.seq` is unique), so the ledger holds
        // unsealed entries only when it holds more entries than the leaves whose entry it has.
        if try await source.entryCount() > total - auditor.report.missingEntries {
            var after: Int64 = 0
            while true {
                let batch = try await source.unsealedEntries(after: after, limit: batchSize)
                for entry in batch { auditor.unsealed(entry) }
                guard let last = batch.last?.seq, batch.count == batchSize else { break }
                after = last
            }
        }
        return auditor.finish()
    }

    /// `--from` named a head there is none of.
    public struct UnknownHead: Error, CustomStringConvertible {
        public let size: Int
        public var description: String { "there is no signed head of size \(size)" }
    }
}
