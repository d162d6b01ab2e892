import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Family members, grants, the ledger and idempotent answers in PostgreSQL.
public struct PostgresConsentStore: ConsentStore {
    let client: TimedPostgres
    let logger: Logger

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static func bytes(_ key: SubjectKey) -> ByteBuffer { ByteBuffer(bytes: key.bytes) }
    static func bytes(_ key: SubjectKey?) -> ByteBuffer? { key.map { ByteBuffer(bytes: $0.bytes) } }
    /// The key's hash under every version a lookup by it tries, for `= ANY(…)`.
    static func lookup(_ key: SubjectKey) -> [ByteBuffer] { key.lookupBytes.map { ByteBuffer(bytes: $0) } }
    static func buffers(_ hashes: [[UInt8]]) -> [ByteBuffer] { hashes.map { ByteBuffer(bytes: $0) } }

    /// An advisory-lock number for a key: its first 8 bytes.
    static func lockNumber(_ key: SubjectKey) -> Int64 {
        key.bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    static func insert(_ record: LedgerRecord, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO ledger (kind, client_id, staff_id, requester_key, requester_masked, subject_key, subject_masked, grant_id,
                                method, legal_basis, result, code_cti, code_exp)
            VALUES (\(record.kind.rawValue), \(record.clientID), \(record.staffID), \(bytes(record.requesterKey)), \(record.requesterMasked),
                    \(bytes(record.subjectKey)), \(record.subjectMasked), \(record.grantID), \(record.method?.rawValue),
                    \(record.legalBasis?.rawValue), \(record.result), \(record.codeID.map { ByteBuffer(bytes: $0) }), \(record.codeExpiry))
            """, logger: logger)
    }

    public func record(_ ledger: LedgerRecord) async throws {
        try await client.withConnection { connection in try await Self.insert(ledger, on: connection, logger: logger) }
    }

    public func record(_ records: [LedgerRecord]) async throws {
        guard !records.isEmpty else { return }
        var binds = PostgresBindings()
        var rows: [String] = []
        for record in records {
            var placeholders: [String] = []
            func add<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value?) throws {
                try binds.append(value)
                placeholders.append("$\(binds.count)")
            }
            try add(record.kind.rawValue)
            try add(record.clientID)
            try add(record.staffID)
            try add(Self.bytes(record.requesterKey))
            try add(record.requesterMasked)
            try add(Self.bytes(record.subjectKey))
            try add(record.subjectMasked)
            try add(record.grantID)
            try add(record.method?.rawValue)
            try add(record.legalBasis?.rawValue)
            try add(record.result)
            try add(record.codeID.map { ByteBuffer(bytes: $0) })
            try add(record.codeExpiry)
            rows.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let query = PostgresQuery(
            unsafeSQL: """
                INSERT INTO ledger (kind, client_id, staff_id, requester_key, requester_masked, subject_key, subject_masked, grant_id,
                                    method, legal_basis, result, code_cti, code_exp)
                VALUES \(rows.joined(separator: ", "))
                """, binds: binds)
        try await client.query(query, logger: logger)
    }

    // MARK: Grants

    /// The subject's key as stored now, locked against a move (`secret rekey`, a gateway push)
    /// until the transaction ends: what a row that refers to the subject must hold.
    static func storedSubjectKey(_ key: SubjectKey, on connection: PostgresConnection, logger: Logger) async throws -> ByteBuffer {
        let rows = try await connection.query(
            "SELECT subject_key FROM subjects WHERE subject_key = ANY(\(lookup(key))) FOR KEY SHARE", logger: logger)
        for try await stored in rows.decode(ByteBuffer.self) { return stored }
        return bytes(key)
    }

    public func createGrant(_ grant: ConsentGrant, tokenHash: [UInt8], statement: String?, ledger: LedgerRecord) async throws {
        try await client.withTransaction(logger: logger) { connection in
            let subject = try await Self.storedSubjectKey(grant.subjectKey, on: connection, logger: logger)
            try await connection.query(
                """
                INSERT INTO consent_grants (id, token_hash, subject_key, grantor_key, grantor_relation, guardianship_id, grantee_key,
                                            legal_basis, method, statement, valid_from, valid_until, max_uses, secret_version)
                VALUES (\(grant.id), \(ByteBuffer(bytes: tokenHash)), \(subject), \(Self.bytes(grant.grantorKey)),
                        \(grant.relation.rawValue), \(grant.guardianshipID), \(Self.bytes(grant.granteeKey)), \(grant.legalBasis.rawValue),
                        \(grant.method.rawValue), \(statement), \(grant.validFrom), \(grant.validUntil), \(grant.maxUses),
                        \(grant.grantorKey.version))
                """, logger: logger)
            try await Self.insert(ledger, on: connection, logger: logger)
        }
    }

    /// The columns `grant(from:)` reads, in its order.
    static let grantColumns = """
        g.id, g.subject_key, g.grantor_key, g.grantor_relation, g.guardianship_id, g.grantee_key, g.legal_basis, g.method,
        g.valid_from, g.valid_until, g.max_uses, g.uses, g.withdrawn_at, g.failed_tries,
        (g.guardianship_id IS NULL OR EXISTS (SELECT 1 FROM guardianships x WHERE x.id = g.guardianship_id AND x.removed_at IS NULL
                                                 AND x.confirmed_at IS NOT NULL))
        """

    static func grantQuery(_ condition: PostgresQuery, forUpdate: Bool = false) -> PostgresQuery {
        var query = PostgresQuery(unsafeSQL: "SELECT \(grantColumns) FROM consent_grants g WHERE " + condition.sql)
        query.binds = condition.binds
        if forUpdate { query.sql += " FOR UPDATE OF g" }
        return query
    }

    /// The grant in a row whose first columns are `grantColumns`; nil for a value this build does not know.
    static func grant(from row: PostgresRow) throws -> ConsentGrant? {
        try grant(from: row.makeRandomAccess(), at: 0)
    }

    /// The grant in `grantColumns` starting at column `offset`; nil when they are NULL (no grant
    /// joined) or hold a value this build does not know.
    static func grant(from row: PostgresRandomAccessRow, at offset: Int) throws -> ConsentGrant? {
        func cell<T: PostgresDecodable>(_ index: Int, _ type: T.Type) throws -> T { try row[offset + index].decode(T.self) }
        guard let id = try cell(0, UUID?.self) else { return nil }
        let (subject, grantor, relation, guardianshipID, grantee) =
            (
                try cell(1, ByteBuffer.self), try cell(2, ByteBuffer.self), try cell(3, String.self), try cell(4, UUID?.self),
                try cell(5, ByteBuffer?.self)
            )
        let (basis, method, from, until, maxUses) =
            (try cell(6, String.self), try cell(7, String.self), try cell(8, Date.self), try cell(9, Date.self), try cell(10, Int.self))
        let (uses, withdrawn, tries, active) = (try cell(11, Int.self), try cell(12, Date?.self), try cell(13, Int.self), try cell(14, Bool.self))
        guard let relation = GrantorRelation(rawValue: relation), let basis = LegalBasis(rawValue: basis),
            let method = GrantMethod(rawValue: method)
        else { return nil }
        return ConsentGrant(
            id: id, subjectKey: SubjectKey(bytes: Array(buffer: subject)), grantorKey: SubjectKey(bytes: Array(buffer: grantor)),
            relation: relation, guardianshipID: guardianshipID, granteeKey: grantee.map { SubjectKey(bytes: Array(buffer: $0)) },
            legalBasis: basis, method: method, validFrom: from, validUntil: until, maxUses: maxUses, uses: uses,
            withdrawnAt: withdrawn, guardianshipActive: active, failedTries: tries)
    }

    static func grants(_ rows: PostgresRowSequence) async throws -> [ConsentGrant] {
        var result: [ConsentGrant] = []
        for try await row in rows {
            if let grant = try grant(from: row) { result.append(grant) }
        }
        return result
    }

    public func grant(tokenHashes: [[UInt8]]) async throws -> ConsentGrant? {
        try await Self.grants(client.query(Self.grantQuery("g.token_hash = ANY(\(Self.buffers(tokenHashes)))"), logger: logger)).first
    }

    public func checkConsent(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheck {
        let rows = try await client.query(
            """
            SELECT outcome, grant_id, requester_failures FROM consent_check(
              \(Self.buffers(tokenHashes)), \(Self.lookup(subject)), \(Self.lookup(requester)), \(window), \(grantLimit)::integer,
              \(requesterLimit)::integer, \(requester.version)::smallint)
            """, logger: logger)
        for try await (outcome, grantID, failures) in rows.decode((String, UUID?, Int).self) {
            switch (outcome, grantID) {
            case ("requester-locked", _): return .requesterLocked
            case ("fits", let id?): return .fits(grantID: id)
            default: return .unfit(grantID: grantID, requesterFailures: failures)
            }
        }
        return .unfit(grantID: nil, requesterFailures: 0)
    }

    public func checkConsentReading(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheckReading {
        // One prepared statement: the check, then the grant it fits and its subject.
        var binds = PostgresBindings()
        try binds.append(Self.buffers(tokenHashes))
        try binds.append(Self.lookup(subject))
        try binds.append(Self.lookup(requester))
        try binds.append(window)
        try binds.append(grantLimit)
        try binds.append(requesterLimit)
        try binds.append(requester.version)
        for row in try await client.execute(LookupStatements.CheckReading(bindings: binds), logger: logger) {
            let (outcome, grantID, failures) = try row.decode((String, UUID?, Int).self)
            let check: ConsentCheck
            switch (outcome, grantID) {
            case ("requester-locked", _): check = .requesterLocked
            case ("fits", let id?): check = .fits(grantID: id)
            default: return ConsentCheckReading(check: .unfit(grantID: grantID, requesterFailures: failures))
            }
            let cells = row.makeRandomAccess()
            let grant = try Self.grant(from: cells, at: LookupStatements.CheckReading.grantOffset)
            var record: SubjectRecord?
            if let key = try cells[3].decode(ByteBuffer?.self), let maskedID = try cells[4].decode(String?.self),
                let nameHash = try cells[5].decode(ByteBuffer?.self), let maskedName = try cells[6].decode(String?.self),
                let status = try cells[7].decode(String?.self), let asOf = try cells[8].decode(Date?.self),
                let version = try cells[9].decode(Int16?.self)
            {
                record = SubjectRecord(
                    subjectKey: SubjectKey(bytes: Array(buffer: key), version: version, lookupBytes: subject.lookupBytes), maskedID: maskedID,
                    nameHash: Array(buffer: nameHash), maskedName: maskedName, status: StatusColour(rawValue: status) ?? .red, asOf: asOf,
                    secretVersion: version)
            }
            return ConsentCheckReading(check: check, grant: grant, subject: record)
        }
        return ConsentCheckReading(check: .unfit(grantID: nil, requesterFailures: 0))
    }

    public func countConsentFailure(requester: SubjectKey, window: Date, grantID: UUID?) async throws -> Int {
        // Under the same requester locks as the consent check (`consent_failure_counted`, sql/0020).
        let rows = try await client.query(
            "SELECT consent_failure_counted(\(Self.lookup(requester)), \(window), \(requester.version)::smallint, \(grantID))",
            logger: logger)
        for try await failures in rows.decode(Int.self) { return failures }
        return 1
    }

    public func grant(id: UUID) async throws -> ConsentGrant? {
        try await Self.grants(client.query(Self.grantQuery("g.id = \(id)"), logger: logger)).first
    }

    public func grants(ofSubject subject: SubjectKey, limit: Int) async throws -> [ConsentGrant] {
        var query = Self.grantQuery("g.subject_key = ANY(\(Self.lookup(subject)))")
        // Grants that still act come first, so many ended ones never push a live one off the list.
        query.sql += """
             ORDER BY (g.withdrawn_at IS NULL AND g.uses < g.max_uses AND g.valid_until > now() AND g.failed_tries < \(ConsentGrant.failedTryLimit)) DESC,
             g.valid_from DESC, g.id DESC LIMIT \(max(0, limit))
            """
        return try await Self.grants(client.query(query, logger: logger))
    }

    public func withdrawGrant(id: UUID, ledger: LedgerRecord) async throws -> ConsentGrant? {
        try await client.withTransaction(logger: logger) { connection in
            guard let grant = try await Self.grants(connection.query(Self.grantQuery("g.id = \(id)", forUpdate: true), logger: logger)).first
            else { return nil }
            if grant.withdrawnAt == nil {
                try await connection.query("UPDATE consent_grants SET withdrawn_at = now() WHERE id = \(id)", logger: logger)
                try await Self.insert(ledger, on: connection, logger: logger)
            }
            return grant
        }
    }

    public func attestedGrants(by requester: SubjectKey, since: Date) async throws -> Int {
        let rows = try await client.query(
            """
            SELECT count(*)::int FROM consent_grants
            WHERE method = 'attested-verbal' AND grantor_key = ANY(\(Self.lookup(requester))) AND created_at >= \(since)
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    // MARK: Lookups

    public func consume(
        grantID: UUID, subject: SubjectKey, requester: SubjectKey, at now: Date, ledger: LedgerRecord,
        idempotency: (clientID: UUID, key: String, answer: IdempotentAnswer)?, issueLimit: IssueLimit?
    ) async throws -> ConsentRefusal? {
        // One statement (`consume_grant_counted`, sql/0021), so one round trip and one transaction.
        // A lock on the issue window, then the grant UPDATE's row lock, serialise lookups of one subject
        // and of one grant: a second one waits, then re-checks against the committed rows. The
        // ledger and idempotency rows are written and the window counted only when it took the
        // use, so a refusal writes nothing here.
        let record = ledger
        var taken = 0
        do {
            var binds = PostgresBindings()
            try binds.append(issueLimit?.key)
            try binds.append(issueLimit?.limit)
            try binds.append(issueLimit.map { now.addingTimeInterval(-$0.window) })
            try binds.append(grantID)
            try binds.append(Self.lookup(subject))
            try binds.append(Self.lookup(requester))
            try binds.append(now)
            try binds.append(ConsentGrant.failedTryLimit)
            try binds.append(record.kind.rawValue)
            try binds.append(record.clientID)
            try binds.append(record.staffID)
            try binds.append(Self.bytes(record.requesterKey))
            try binds.append(record.requesterMasked)
            try binds.append(Self.bytes(record.subjectKey))
            try binds.append(record.subjectMasked)
            try binds.append(record.grantID)
            try binds.append(record.method?.rawValue)
            try binds.append(record.legalBasis?.rawValue)
            try binds.append(record.result)
            try binds.append(record.codeID.map { ByteBuffer(bytes: $0) })
            try binds.append(record.codeExpiry)
            try binds.append(idempotency?.clientID)
            try binds.append(idempotency?.key)
            try binds.append(idempotency.map { ByteBuffer(bytes: $0.answer.requestHash) })
            try binds.append(idempotency.map { ByteBuffer(bytes: $0.answer.claims) })
            for row in try await client.execute(LookupStatements.Consume(bindings: binds), logger: logger) {
                let (outcome, windowStart) = try row.decode((Int, Date?).self)
                if let issueLimit, outcome == -1, let windowStart {
                    throw IssueLimitReached(
                        windowStart: windowStart.timeIntervalSince1970, window: issueLimit.window, now: now.timeIntervalSince1970)
                }
                taken = outcome
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw IdempotencyKeyTaken()
        }
        if taken == 1 { return nil }
        // Refused: read the grant to say why. Uses only grow and withdrawals are final, so the
        // reason read now is the reason the update did not match.
        guard let grant = try await grant(id: grantID) else { return .invalid }
        return grant.refusal(subject: subject, requester: requester, at: now) ?? .used
    }

    // MARK: Assertion bindings

    public func bindAssertion(_ hashes: [[UInt8]], version: Int16, to clientID: UUID, until expiresAt: Date) async throws -> UUID {
        let hash = hashes[0]
        // Bound under another version (before a rotation, and not yet moved): that binding holds.
        if hashes.count > 1 {
            let earlier = try await client.query(
                "SELECT client_id FROM assertion_bindings WHERE assertion_hash = ANY(\(Self.buffers(Array(hashes.dropFirst()))))",
                logger: logger)
            for try await owner in earlier.decode(UUID.self) { return owner }
        }
        let inserted = try await client.query(
            """
            INSERT INTO assertion_bindings (assertion_hash, client_id, expires_at, secret_version)
            VALUES (\(ByteBuffer(bytes: hash)), \(clientID), \(expiresAt), \(version))
            ON CONFLICT (assertion_hash) DO NOTHING RETURNING client_id
            """, logger: logger)
        for try await owner in inserted.decode(UUID.self) { return owner }
        // Bound already, perhaps by a statement that committed while this one waited: read it anew.
        let rows = try await client.query(
            "SELECT client_id FROM assertion_bindings WHERE assertion_hash = ANY(\(Self.buffers(hashes)))", logger: logger)
        for try await owner in rows.decode(UUID.self) { return owner }
        // Deleted between the two statements: it had expired, so nobody owns it.
        return clientID
    }

    public func deleteAssertionBindings(expiredBefore cutoff: Date) async throws {
        try await client.query("DELETE FROM assertion_bindings WHERE expires_at < \(cutoff)", logger: logger)
    }

    public func idempotentAnswer(clientID: UUID, key: String, notBefore: Date) async throws -> IdempotentAnswer? {
        let rows = try await client.query(
            """
            SELECT request_hash, claims FROM idempotent_lookups
            WHERE client_id = \(clientID) AND key = \(key) AND created_at >= \(notBefore)
            """, logger: logger)
        for try await (hash, claims) in rows.decode((ByteBuffer, ByteBuffer).self) {
            return IdempotentAnswer(requestHash: Array(buffer: hash), claims: Array(buffer: claims))
        }
        return nil
    }

    public func ledger(after seq: Int64, limit: Int) async throws -> [StoredLedgerRecord] {
        let rows = try await client.query(
            """
            SELECT seq, at, kind, client_id, staff_id, requester_key, requester_masked, subject_key, subject_masked, grant_id, method,
                   legal_basis, result, code_cti, code_exp
            FROM ledger WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)
            """, logger: logger)
        var result: [StoredLedgerRecord] = []
        for try await (
            number, at, kind, clientID, staffID, requester, requesterMasked, subject, subjectMasked, grantID, method, basis, outcome, cti, exp
        )
            in rows.decode(
                (Int64, Date, String, UUID?, UUID?, ByteBuffer?, String?, ByteBuffer?, String?, UUID?, String?, String?, String, ByteBuffer?, Date?)
                    .self)
        {
            guard let kind = LedgerRecord.Kind(rawValue: kind) else { continue }
            result.append(
                StoredLedgerRecord(
                    seq: number, at: at,
                    record: LedgerRecord(
                        kind: kind, clientID: clientID, staffID: staffID, requesterKey: requester.map { SubjectKey(bytes: Array(buffer: $0)) },
                        requesterMasked: requesterMasked, subjectKey: subject.map { SubjectKey(bytes: Array(buffer: $0)) },
                        subjectMasked: subjectMasked, grantID: grantID, method: method.flatMap(GrantMethod.init(rawValue:)),
                        legalBasis: basis.flatMap(LegalBasis.init(rawValue:)), result: outcome, codeID: cti.map { Array(buffer: $0) },
                        codeExpiry: exp)))
        }
        return result
    }

    /// The retention purge: `passby_purge` (sql/0016) over every table with personal data, and
    /// its own ledger record, in one transaction. Only the owner may run it.
    public func purge(before cutoff: Date) async throws -> PurgeCounts {
        try await client.withTransaction(logger: logger) { connection in
            var counts = PurgeCounts()
            let rows = try await connection.query("SELECT item, erased FROM passby_purge(\(cutoff))", logger: logger)
            for try await (item, erased) in rows.decode((String, Int64).self) { counts[item] = Int(erased) }
            try await Self.insert(LedgerRecord(kind: .purge, result: counts.summary(before: cutoff)), on: connection, logger: logger)
            return counts
        }
    }
}
