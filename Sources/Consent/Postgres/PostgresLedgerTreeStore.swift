import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The ledger's Merkle tree and signed heads in PostgreSQL.
public struct PostgresLedgerTreeStore: LedgerTreeStore {
    let client: TimedPostgres
    let logger: Logger
    /// The most entries one seal takes, so that one transaction stays short; `ledger seal` seals again until none is left.
    public static let sealBatch = 100_000
    /// One sealer at a time across all instances ("seal").
    static let sealerLock = Int64(0x7365_616C)

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let headColumns = "size, root, sealed_at, kid, signature, frontier, last_seq"

    static func heads(_ rows: PostgresRowSequence) async throws -> [TreeHead] {
        var heads: [TreeHead] = []
        for try await (size, root, at, kid, signature, frontier, lastSeq)
            in rows.decode((Int64, ByteBuffer, Date, String, ByteBuffer, [ByteBuffer], Int64).self)
        {
            heads.append(
                TreeHead(
                    size: Int(size), root: Array(buffer: root), sealedAt: at, kid: kid, signature: Array(buffer: signature),
                    frontier: frontier.map { Array(buffer: $0) }, lastSeq: lastSeq))
        }
        return heads
    }

    public func seal(
        waitForLock: Bool, signer: @escaping @Sendable (_ size: Int, _ root: MerkleTree.Hash, _ at: Date) throws -> (kid: String, signature: [UInt8])
    ) async throws -> TreeHead? {
        try await client.withTransaction(logger: logger) { connection in
            if waitForLock {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.sealerLock))", logger: logger)
            } else {
                var locked = false
                for try await value in try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.sealerLock))", logger: logger).decode(
                    Bool.self)
                {
                    locked = value
                }
                guard locked else { return nil }
            }
            let latest = try await Self.heads(
                connection.query(
                    "SELECT \(unescaped: Self.headColumns) FROM ledger_heads ORDER BY size DESC LIMIT 1", logger: logger)
            ).first
            var frontier = MerkleFrontier()
            if let latest {
                // A stored frontier of the wrong shape was tampered with: seal nothing on it.
                guard let stored = MerkleFrontier(validating: latest.size, nodes: latest.frontier) else { throw DamagedFrontier(size: latest.size) }
                frontier = stored
            }
            let lastSeq = latest?.lastSeq ?? 0
            // The queue, not a range of numbers: an entry that commits late is still in it.
            let rows = try await connection.query(
                """
                SELECT l.seq, l.leaf_hash FROM ledger_unsealed u JOIN ledger l ON l.seq = u.seq
                WHERE NOT EXISTS (SELECT 1 FROM ledger_tree t WHERE t.seq = u.seq)
                ORDER BY u.seq LIMIT \(Self.sealBatch)
                """, logger: logger)
            var seqs: [Int64] = []
            var indices: [Int64] = []
            var levels: [Int] = []
            var positions: [Int64] = []
            var hashes: [ByteBuffer] = []
            for try await (seq, leaf) in rows.decode((Int64, ByteBuffer).self) {
                indices.append(Int64(frontier.size))
                for (ref, hash) in frontier.appendReturningNodes(Array(buffer: leaf)) {
                    levels.append(ref.level)
                    positions.append(ref.index)
                    hashes.append(ByteBuffer(bytes: hash))
                }
                seqs.append(seq)
            }
            guard !seqs.isEmpty else { return nil }
            try await connection.query(
                "INSERT INTO ledger_tree (leaf_index, seq) SELECT * FROM unnest(\(indices)::bigint[], \(seqs)::bigint[])", logger: logger)
            // Only what the tree now holds leaves the queue; the service's role can take nothing else.
            try await connection.query("SELECT ledger_dequeue_sealed()", logger: logger)
            try await connection.query(
                "INSERT INTO ledger_nodes (level, idx, hash) SELECT * FROM unnest(\(levels)::integer[], \(positions)::bigint[], \(hashes)::bytea[])",
                logger: logger)
            // Whole seconds: the signed bytes carry Unix seconds.
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let root = frontier.root
            let (kid, signature) = try signer(frontier.size, root, now)
            let head = TreeHead(
                size: frontier.size, root: root, sealedAt: now, kid: kid, signature: signature, frontier: frontier.nodes,
                lastSeq: max(lastSeq, seqs.max() ?? lastSeq))
            try await connection.query(
                """
                INSERT INTO ledger_heads (size, root, sealed_at, kid, signature, frontier, last_seq)
                VALUES (\(Int64(head.size)), \(ByteBuffer(bytes: head.root)), \(head.sealedAt), \(head.kid), \(ByteBuffer(bytes: head.signature)),
                        \(head.frontier.map { ByteBuffer(bytes: $0) })::bytea[], \(head.lastSeq))
                """, logger: logger)
            return head
        }
    }

    public func latestHead() async throws -> TreeHead? {
        try await Self.heads(client.query("SELECT \(unescaped: Self.headColumns) FROM ledger_heads ORDER BY size DESC LIMIT 1", logger: logger)).first
    }

    public func head(size: Int) async throws -> TreeHead? {
        try await Self.heads(client.query("SELECT \(unescaped: Self.headColumns) FROM ledger_heads WHERE size = \(Int64(size))", logger: logger))
            .first
    }

    public func heads() async throws -> [TreeHead] {
        try await Self.heads(client.query("SELECT \(unescaped: Self.headColumns) FROM ledger_heads ORDER BY size", logger: logger))
    }

    public func nodes(_ refs: Set<MerkleNodeRef>) async throws -> [MerkleNodeRef: MerkleTree.Hash] {
        let wanted = Array(refs)
        let rows = try await client.query(
            """
            SELECT n.level, n.idx, n.hash FROM ledger_nodes n
            JOIN unnest(\(wanted.map(\.level))::integer[], \(wanted.map(\.index))::bigint[]) AS w(level, idx) USING (level, idx)
            """, logger: logger)
        var found: [MerkleNodeRef: MerkleTree.Hash] = [:]
        for try await (level, index, hash) in rows.decode((Int, Int64, ByteBuffer).self) {
            found[MerkleNodeRef(level: level, index: index)] = Array(buffer: hash)
        }
        return found
    }

    public func leafIndex(seq: Int64) async throws -> Int? {
        for try await index in try await client.query("SELECT leaf_index FROM ledger_tree WHERE seq = \(seq)", logger: logger).decode(Int64.self) {
            return Int(index)
        }
        return nil
    }
}

extension PostgresLedgerTreeStore: LedgerReviewStore {
    public func entries(matching filter: LedgerFilter, afterLeaf: Int64, beforeLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] {
        // Entries keep the server-secret version they were written under: a key tries each.
        let subject = filter.subjectKey.map { $0.lookupBytes.map { ByteBuffer(bytes: $0) } }
        let requester = filter.requesterKey.map { $0.lookupBytes.map { ByteBuffer(bytes: $0) } }
        let time = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
        let rows = try await client.query(
            """
            SELECT t.leaf_index, l.seq, l.kind, to_char(l.at AT TIME ZONE 'UTC', \(unescaped: time)), coalesce(l.client_id::text, ''),
                   coalesce(l.staff_id::text, ''), coalesce(l.requester_masked, ''), coalesce(l.subject_masked, ''),
                   coalesce(l.grant_id::text, ''), coalesce(l.method, ''), coalesce(l.legal_basis, ''), l.result,
                   coalesce(encode(l.code_cti, 'hex'), ''), coalesce(to_char(l.code_exp AT TIME ZONE 'UTC', \(unescaped: time)), '')
            FROM ledger_tree t JOIN ledger l ON l.seq = t.seq
            WHERE t.leaf_index > \(afterLeaf) AND t.leaf_index < \(beforeLeaf)
              AND (\(subject)::bytea[] IS NULL OR l.subject_key = ANY(\(subject)))
              AND (\(requester)::bytea[] IS NULL OR l.requester_key = ANY(\(requester)))
              AND (\(filter.kind)::text IS NULL OR l.kind = \(filter.kind))
              AND (\(filter.result)::text IS NULL OR l.result = \(filter.result))
              AND (\(filter.clientID)::uuid IS NULL OR l.client_id = \(filter.clientID))
              AND (\(filter.from)::timestamptz IS NULL OR l.at >= \(filter.from))
              AND (\(filter.to)::timestamptz IS NULL OR l.at < \(filter.to))
            ORDER BY t.leaf_index LIMIT \(limit)
            """, logger: logger)
        var result: [ReviewedEntry] = []
        for try await row in rows {
            let c = try row.decode(
                (Int64, Int64, String, String, String, String, String, String, String, String, String, String, String, String).self)
            result.append(
                ReviewedEntry(
                    leafIndex: c.0, seq: c.1, kind: c.2, at: c.3, clientID: c.4, staffID: c.5, requesterMasked: c.6, subjectMasked: c.7,
                    grantID: c.8, method: c.9, legalBasis: c.10, result: c.11, codeID: c.12, codeExpiry: c.13))
        }
        return result
    }
}

/// The newest head's stored frontier is not one a tree of its size can have: `ledger verify` names it.
public struct DamagedFrontier: Error, CustomStringConvertible {
    public let size: Int
    public var description: String { "head \(size): its stored frontier is damaged; nothing is sealed on it (run passby ledger verify)" }
}
