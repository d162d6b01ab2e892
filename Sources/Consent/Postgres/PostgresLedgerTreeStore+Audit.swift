import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// What `passby ledger verify` reads, a batch at a time.
extension PostgresLedgerTreeStore {
    public func leafCount() async throws -> Int {
        try await count("SELECT coalesce(max(leaf_index) + 1, 0) FROM ledger_tree")
    }

    public func entryCount() async throws -> Int {
        try await count("SELECT count(*) FROM ledger")
    }

    public func sealedLeaves(_ range: Range<Int64>) async throws -> [SealedLeaf] {
        let rows = try await client.query(
            """
            SELECT t.leaf_index, t.seq, l.seq IS NOT NULL, \(unescaped: Self.entryColumns)
            FROM ledger_tree t LEFT JOIN ledger l ON l.seq = t.seq
            WHERE t.leaf_index >= \(range.lowerBound) AND t.leaf_index < \(range.upperBound) ORDER BY t.leaf_index
            """, logger: logger)
        var leaves: [SealedLeaf] = []
        for try await row in rows {
            let columns = try row.makeRandomAccess()
            let present = try columns[2].decode(Bool.self)
            leaves.append(
                SealedLeaf(
                    index: try columns[0].decode(Int64.self), seq: try columns[1].decode(Int64.self),
                    entry: present ? try Self.entry(columns, from: 3) : nil))
        }
        return leaves
    }

    public func unsealedEntries(after seq: Int64, limit: Int) async throws -> [LedgerAudit.EntryFields] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.entryColumns) FROM ledger l
            WHERE l.seq > \(seq) AND NOT EXISTS (SELECT 1 FROM ledger_tree t WHERE t.seq = l.seq) ORDER BY l.seq LIMIT \(limit)
            """, logger: logger)
        var entries: [LedgerAudit.EntryFields] = []
        for try await row in rows { entries.append(try Self.entry(try row.makeRandomAccess(), from: 0)) }
        return entries
    }

    public func heads(sizes: ClosedRange<Int>) async throws -> [TreeHead] {
        try await Self.heads(
            client.query(
                """
                SELECT \(unescaped: Self.headColumns) FROM ledger_heads
                WHERE size >= \(Int64(sizes.lowerBound)) AND size <= \(Int64(clamping: sizes.upperBound)) ORDER BY size
                """, logger: logger))
    }

    private func count(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await client.query(query, logger: logger).decode(Int64.self) { return Int(value) }
        return 0
    }

    /// An entry's columns as the canonical form writes them. Times are formatted here, not
    /// through functions stored in the database, which an attacker could change.
    static let entryColumns = """
        l.seq, l.kind, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), coalesce(l.client_id::text, ''),
        coalesce(l.staff_id::text, ''), coalesce(encode(l.requester_key, 'hex'), ''), coalesce(l.requester_masked, ''),
        coalesce(encode(l.subject_key, 'hex'), ''), coalesce(l.subject_masked, ''), coalesce(l.grant_id::text, ''),
        coalesce(l.method, ''), coalesce(l.legal_basis, ''), l.result, coalesce(encode(l.code_cti, 'hex'), ''),
        coalesce(to_char(l.code_exp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''), l.leaf_hash, l.personal_digest,
        l.purged_at IS NOT NULL, coalesce(encode(l.personal_salt, 'hex'), '')
        """

    /// The entry in `columns` from `offset` on, laid out as `entryColumns`.
    static func entry(_ columns: PostgresRandomAccessRow, from offset: Int) throws -> LedgerAudit.EntryFields {
        func text(_ index: Int) throws -> String { try columns[offset + index].decode(String.self) }
        let seq = try columns[offset].decode(Int64.self)
        let digest = Array(buffer: try columns[offset + 16].decode(ByteBuffer.self))
        let purged = try columns[offset + 17].decode(Bool.self)
        // Entries from before the salt have none, and their digest was made without one.
        let salt = try text(18)
        let personal =
            (salt.isEmpty ? [] : [("salt", salt)]) + [
                ("requester", try text(5)), ("requester_masked", try text(6)), ("subject", try text(7)), ("subject_masked", try text(8)),
            ]
        return LedgerAudit.EntryFields(
            seq: seq,
            fields: [
                ("seq", "\(seq)"), ("kind", try text(1)), ("at", try text(2)), ("client", try text(3)), ("staff", try text(4)),
                ("personal", LedgerAudit.hex(digest)), ("grant", try text(9)), ("method", try text(10)),
                ("basis", try text(11)), ("result", try text(12)), ("cti", try text(13)), ("exp", try text(14)),
            ],
            personal: purged ? nil : personal, personalDigest: digest, leafHash: Array(buffer: try columns[offset + 15].decode(ByteBuffer.self)))
    }
}
