import Consent
import Crypto
import Foundation
import Logging
import Testing
import ThrowawayPostgres

/// Which implementation a contract test runs against: the in-memory twin or PostgreSQL.
enum StoreKind: String, CaseIterable, Sendable { case memory, postgres }

/// The stores of one kind, sharing one ledger as the PostgreSQL ones share one database.
struct ConsentStores: Sendable {
    var consents: any ConsentStore
    var offlineCodes: any OfflineCodeStore
    var statuses: any HealthStatusRepository
    var tree: any LedgerTreeStore & LedgerReviewStore

    static let personalData = PersonalData(secret: SymmetricKey(data: Array(repeating: UInt8(7), count: 32)))
    static let today = CivilDate(year: 2026, month: 11, day: 29)!

    /// Runs `body` with fresh stores of `kind`.
    static func with(_ kind: StoreKind, _ body: (ConsentStores) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let consents = InMemoryConsentStore()
            let offlineCodes = InMemoryOfflineCodeStore(ledger: consents)
            await consents.attach(offlineCodes: offlineCodes)
            try await body(
                ConsentStores(
                    consents: consents, offlineCodes: offlineCodes, statuses: InMemoryHealthStatusRepository(),
                    tree: InMemoryLedgerTreeStore(ledger: consents)))
        case .postgres:
            try await withThrowawayClient { client in
                let logger = Logger(label: "test")
                try await body(
                    ConsentStores(
                        consents: PostgresConsentStore(client: client.timed, logger: logger),
                        offlineCodes: PostgresOfflineCodeStore(client: client.timed, logger: logger),
                        statuses: PostgresHealthStatusRepository(client: client.timed, logger: logger),
                        tree: PostgresLedgerTreeStore(client: client.timed, logger: logger)))
            }
        }
    }

    /// A known subject (it has a status), as family registrations and grants need.
    func subject(_ number: String, name: String = "王秀英") async throws -> (key: SubjectKey, id: IdentityNumber) {
        let id = try IdentityNumber(parsing: number, today: Self.today)
        _ = try await statuses.upsert([HealthStatusUpdate(id: id, name: name, status: .green, asOf: Date(), personalData: Self.personalData)])
        return (Self.personalData.subjectKey(id), id)
    }

    /// The kinds of the ledger's records, in order.
    func ledgerKinds() async throws -> [LedgerRecord.Kind] {
        try await consents.ledger(after: 0, limit: 1000).map(\.record.kind)
    }
}

/// A person who is only ever a requester or guardian: a key no subject row needs.
func personKey(_ byte: UInt8) -> SubjectKey { SubjectKey(bytes: Array(repeating: byte, count: 32)) }
