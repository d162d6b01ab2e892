import Foundation

/// `LedgerTreeStore` and `LedgerReviewStore` in memory, over the entries of an
/// `InMemoryConsentStore`, held to the same contract as `PostgresLedgerTreeStore`.
public actor InMemoryLedgerTreeStore: LedgerTreeStore, LedgerReviewStore {
    let ledger: InMemoryConsentStore
    var frontier = MerkleFrontier()
    var order: [(index: Int64, seq: Int64)] = []
    var leafBySeq: [Int64: Int] = [:]
    var storedNodes: [MerkleNodeRef: MerkleTree.Hash] = [:]
    var storedHeads: [TreeHead] = []

    public init(ledger: InMemoryConsentStore) {
        self.ledger = ledger
    }

    public func seal(
        waitForLock: Bool, signer: @escaping @Sendable (_ size: Int, _ root: MerkleTree.Hash, _ at: Date) throws -> (kid: String, signature: [UInt8])
    ) async throws -> TreeHead? {
        // The actor is the lock: seals never overlap, so there is never a turn to skip.
        let unsealed = await ledger.auditEntries().filter { leafBySeq[$0.seq] == nil }
        guard !unsealed.isEmpty else { return nil }
        var next = frontier
        var nodes: [(MerkleNodeRef, MerkleTree.Hash)] = []
        for entry in unsealed { nodes += next.appendReturningNodes(entry.leafHash) }
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let (kid, signature) = try signer(next.size, next.root, now)
        // Signed: only now does anything change, as the PostgreSQL seal commits all or nothing.
        for (offset, entry) in unsealed.enumerated() {
            let index = frontier.size + offset
            order.append((Int64(index), entry.seq))
            leafBySeq[entry.seq] = index
        }
        for (ref, hash) in nodes { storedNodes[ref] = hash }
        frontier = next
        let head = TreeHead(
            size: next.size, root: next.root, sealedAt: now, kid: kid, signature: signature, frontier: next.nodes,
            lastSeq: max(storedHeads.last?.lastSeq ?? 0, unsealed.map(\.seq).max() ?? 0))
        storedHeads.append(head)
        return head
    }

    public func latestHead() async throws -> TreeHead? { storedHeads.last }

    public func head(size: Int) async throws -> TreeHead? { storedHeads.first { $0.size == size } }

    public func heads() async throws -> [TreeHead] { storedHeads }

    public func nodes(_ refs: Set<MerkleNodeRef>) async throws -> [MerkleNodeRef: MerkleTree.Hash] {
        storedNodes.filter { refs.contains($0.key) }
    }

    public func leafIndex(seq: Int64) async throws -> Int? { leafBySeq[seq] }

    public func leafCount() async throws -> Int { order.count }

    public func entryCount() async throws -> Int { await ledger.auditEntries().count }

    public func sealedLeaves(_ range: Range<Int64>) async throws -> [SealedLeaf] {
        let entries = await ledger.auditEntries()
        let bySeq = Dictionary(entries.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        return order.filter { range.contains($0.index) }.map { SealedLeaf(index: $0.index, seq: $0.seq, entry: bySeq[$0.seq]) }
    }

    public func unsealedEntries(after seq: Int64, limit: Int) async throws -> [LedgerAudit.EntryFields] {
        Array(await ledger.auditEntries().filter { $0.seq > seq && leafBySeq[$0.seq] == nil }.prefix(limit))
    }

    public func heads(sizes: ClosedRange<Int>) async throws -> [TreeHead] { storedHeads.filter { sizes.contains($0.size) } }

    public func entries(matching filter: LedgerFilter, afterLeaf: Int64, beforeLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] {
        let records = await ledger.storedRecords()
        var result: [ReviewedEntry] = []
        for (index, seq) in order where index > afterLeaf && index < beforeLeaf {
            guard result.count < limit else { break }
            let stored = records[Int(seq) - 1]
            let record = stored.record
            if let key = filter.subjectKey, !key.matches(record.subjectKey) { continue }
            if let key = filter.requesterKey, !key.matches(record.requesterKey) { continue }
            if let kind = filter.kind, record.kind.rawValue != kind { continue }
            if let outcome = filter.result, record.result != outcome { continue }
            if let client = filter.clientID, record.clientID != client { continue }
            if let from = filter.from, stored.at < from { continue }
            if let to = filter.to, stored.at >= to { continue }
            result.append(
                ReviewedEntry(
                    leafIndex: index, seq: seq, kind: record.kind.rawValue, at: LedgerAudit.time(stored.at),
                    clientID: record.clientID?.uuidString.lowercased() ?? "", staffID: record.staffID?.uuidString.lowercased() ?? "",
                    requesterMasked: record.requesterMasked ?? "", subjectMasked: record.subjectMasked ?? "",
                    grantID: record.grantID?.uuidString.lowercased() ?? "", method: record.method?.rawValue ?? "",
                    legalBasis: record.legalBasis?.rawValue ?? "", result: record.result, codeID: record.codeID.map(LedgerAudit.hex) ?? "",
                    codeExpiry: record.codeExpiry.map(LedgerAudit.time) ?? ""))
        }
        return result
    }
}

extension LedgerAudit {
    /// A time as the canonical form writes it: UTC, microseconds, `Z`.
    static func time(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let seconds = Date(timeIntervalSince1970: TimeInterval(micros.quotientAndRemainder(dividingBy: 1_000_000).quotient))
        let fraction = (micros % 1_000_000 + 1_000_000) % 1_000_000
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: seconds)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, fraction)
    }

}

extension LedgerAudit.EntryFields {
    /// An entry's canonical fields, digest and leaf hash, as the ledger's trigger computes them.
    /// `salt`: the per-row salt of the personal part, as the trigger draws it.
    init(_ stored: StoredLedgerRecord, salt: [UInt8]) {
        let record = stored.record
        let requester: String = record.requesterKey.map { LedgerAudit.hex($0.bytes) } ?? ""
        let subject: String = record.subjectKey.map { LedgerAudit.hex($0.bytes) } ?? ""
        let personal: [(String, String)] = [
            ("salt", LedgerAudit.hex(salt)), ("requester", requester), ("requester_masked", record.requesterMasked ?? ""),
            ("subject", subject), ("subject_masked", record.subjectMasked ?? ""),
        ]
        let digest = LedgerAudit.personalDigest(personal)
        func uuid(_ id: UUID?) -> String { id?.uuidString.lowercased() ?? "" }
        var fields: [(String, String)] = [("seq", "\(stored.seq)"), ("kind", record.kind.rawValue), ("at", LedgerAudit.time(stored.at))]
        fields.append(("client", uuid(record.clientID)))
        fields.append(("staff", uuid(record.staffID)))
        fields.append(("personal", LedgerAudit.hex(digest)))
        fields.append(("grant", uuid(record.grantID)))
        fields.append(("method", record.method?.rawValue ?? ""))
        fields.append(("basis", record.legalBasis?.rawValue ?? ""))
        fields.append(("result", record.result))
        fields.append(("cti", record.codeID.map(LedgerAudit.hex) ?? ""))
        fields.append(("exp", record.codeExpiry.map(LedgerAudit.time) ?? ""))
        self.init(
            seq: stored.seq, fields: fields, personal: personal, personalDigest: digest,
            leafHash: MerkleTree.leafHash(LedgerAudit.entryBytes(fields)))
    }
}
