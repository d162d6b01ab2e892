import Consent
import Crypto
import Database
import Display
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// Builds the application on in-memory stores or on a fresh throwaway PostgreSQL database.
extension PassbyConfiguration {
    /// Rate limits high enough that a test's own burst of lookups is never the thing refused.
    static var withoutLookupLimits: PassbyConfiguration {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerRequester = 10_000
        configuration.lookupsPerMinutePerSubject = 10_000
        return configuration
    }
}

enum TestApp {
    static let secret = SymmetricKey(data: Array(repeating: UInt8(42), count: 32))
    static let personalData = PersonalData(secret: secret)

    /// A key store in a fresh temporary directory with one active key, and a ring that reloads on every read.
    static func keys() throws -> (KeyStore, LiveKeyRing) {
        let store = KeyStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("passby-test-keys-\(UUID())"))
        try store.ensureActiveKey()
        return (store, try LiveKeyRing(store: store, maxCodeLifetime: PassbyConfiguration().maxCodeLifetime, refreshInterval: 0))
    }

    static let ledgerKey = LedgerKey(key: try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(repeating: UInt8(7), count: 32)))

    /// The development identity provider with a fixed key, and a verifier that trusts it.
    static let identityProvider = DevelopmentIdentityProvider(
        key: try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(repeating: UInt8(9), count: 32)))
    static func assertions() async throws -> AssertionVerifier {
        try await AssertionVerifier(providers: [identityProvider.provider])
    }

    /// Stores that need PostgreSQL are absent from these: the routes that use them are tested on PostgreSQL.
    static func memory(
        configuration: PassbyConfiguration = .init(), database: any DatabaseProbe = AlwaysReady(), keys: LiveKeyRing? = nil
    ) async throws -> PassbyComponents {
        let stores = PassbyStores(
            clients: InMemoryAPIClientRepository(), statuses: InMemoryHealthStatusRepository(), consents: LedgerOnlyConsentStore(),
            offlineCodes: NoOfflineCodes(), staff: NoStaff(), ledgerTree: NoLedgerTree(), reviews: NoLedgerTree(), database: database)
        return PassbyComponents(
            configuration: configuration, personalData: personalData, keys: try keys ?? Self.keys().1, ledgerKey: ledgerKey,
            assertions: try await assertions(), stores: stores)
    }

    /// The application connects as `passby_app`, as `passby serve` does; the second client is the
    /// database owner's, for tests that inspect every table or play a superuser tampering with it.
    static func postgres(configuration: PassbyConfiguration = .init()) async throws -> (PassbyComponents, PostgresClient) {
        let database = try await ThrowawayDatabase.create()
        var application = database
        application.username = DatabaseHandle.applicationRole
        let client = PostgresClient(configuration: application, backgroundLogger: Logger(label: "test"))
        let owner = PostgresClient(configuration: database, backgroundLogger: Logger(label: "test"))
        var components = PassbyComponents.postgres(
            client, configuration: configuration, personalData: personalData, keys: try Self.keys().1,
            ledgerKey: ledgerKey, assertions: try await assertions(), logger: Logger(label: "test"))
        components.services.append(owner)
        return (components, owner)
    }

    /// Components whose PostgreSQL cannot be reached at all.
    static func unreachable(timeout: Duration = .milliseconds(500)) async throws -> PassbyComponents {
        var configuration = PassbyConfiguration()
        configuration.databaseTimeout = timeout
        var postgres = PostgresClient.Configuration(
            unixSocketPath: "/tmp/passby-nowhere-\(UUID())/.s.PGSQL.5432", username: "postgres", password: nil, database: "passby")
        postgres.options.connectTimeout = .milliseconds(200)
        let client = PostgresClient(configuration: postgres, backgroundLogger: Logger(label: "test"))
        return .postgres(
            client, configuration: configuration, personalData: personalData, keys: try keys().1, ledgerKey: ledgerKey,
            assertions: try await assertions(), logger: Logger(label: "test"))
    }
}

/// Short names for the stores, so that tests read as what they set up.
extension PassbyComponents {
    var clients: any APIClientRepository { stores.clients }
    var statuses: any HealthStatusRepository { stores.statuses }
    var consents: any ConsentStore { stores.consents }
    var staff: any StaffRepository { stores.staff }
    var ledgerTree: any LedgerTreeStore { stores.ledgerTree }
}

struct AlwaysReady: DatabaseProbe {
    func ping() async throws {}
}

extension TestClientProtocol {
    /// Sends a request and returns the status, headers and body.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, key: String? = nil, body: String? = nil, headers: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var headers = headers
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            (response.status, response.headers, String(buffer: response.body))
        }
    }
}

/// Parses a JSON object body.
func json(_ body: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
}

/// Asserts a problem+json answer with the given status and reason.
func expectProblem(
    _ response: (status: HTTPResponse.Status, headers: HTTPFields, body: String), _ status: HTTPResponse.Status, _ reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status == status, sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let object = try json(response.body)
    #expect(object["reason"] as? String == reason, sourceLocation: sourceLocation)
    #expect((object["type"] as? String)?.hasSuffix("/\(reason)") == true, sourceLocation: sourceLocation)
    #expect(object["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
}

/// A consent store for in-memory tests: it keeps ledger records and refuses everything else.
final class LedgerOnlyConsentStore: ConsentStore {
    struct Unavailable: Error {}
    let records = Mutex<[LedgerRecord]>([])
    func addGuardianship(_: Guardianship, quotas: GuardianQuotas, ledger: LedgerRecord) async throws -> Result<Guardianship, GuardianshipRefusal> { throw Unavailable() }
    func guardianships(of _: SubjectKey) async throws -> [Guardianship] { throw Unavailable() }
    func activeGuardianship(guardian: SubjectKey, subject: SubjectKey) async throws -> Guardianship? { throw Unavailable() }
    func removeGuardianship(id: UUID, guardian: SubjectKey, ledger: LedgerRecord) async throws -> Bool { throw Unavailable() }
    func createGrant(_: ConsentGrant, tokenHash: [UInt8], statement: String?, ledger: LedgerRecord) async throws { throw Unavailable() }
    func grant(tokenHash: [UInt8]) async throws -> ConsentGrant? { throw Unavailable() }
    func grant(id: UUID) async throws -> ConsentGrant? { throw Unavailable() }
    func withdrawGrant(id: UUID, ledger: LedgerRecord) async throws -> ConsentGrant? { throw Unavailable() }
    func attestedGrants(by _: SubjectKey, since: Date) async throws -> Int { throw Unavailable() }
    func consume(grantID: UUID, subject: SubjectKey, requester: SubjectKey, at: Date, ledger: LedgerRecord,
                 idempotency: (clientID: UUID, key: String, answer: IdempotentAnswer)?) async throws -> ConsentRefusal? { throw Unavailable() }
    func idempotentAnswer(clientID: UUID, key: String, notBefore: Date) async throws -> IdempotentAnswer? { throw Unavailable() }
    func record(_ record: LedgerRecord) async throws { records.withLock { $0.append(record) } }
    func record(_ batch: [LedgerRecord]) async throws { records.withLock { $0 += batch } }
    func ledger(after seq: Int64, limit: Int) async throws -> [StoredLedgerRecord] { throw Unavailable() }
    func purge(before cutoff: Date) async throws -> Int { throw Unavailable() }
}

/// No offline code has ever been issued: every offline code reads as replaced.
struct NoOfflineCodes: OfflineCodeStore {
    struct Unavailable: Error {}
    func issue(subject: SubjectKey, subjectReference: [UInt8], mode: OfflineIssue, at: Date, ledger: LedgerRecord,
               claims: @escaping @Sendable (Int64, UUID) throws -> (claims: [UInt8], issuedAt: Date, expiresAt: Date)) async throws -> OfflineIssueOutcome {
        throw Unavailable()
    }
    func currentCode(subject: SubjectKey) async throws -> OfflineCodeRecord? { nil }
    func code(id: UUID) async throws -> OfflineCodeRecord? { nil }
    func currentGeneration(subjectReference: [UInt8]) async throws -> (subject: SubjectKey, generation: Int64)? { nil }
}

/// No staff accounts.
struct NoStaff: StaffRepository {
    func add(username: String, passwordHash: String) async throws -> StaffAccount? { nil }
    func list() async throws -> [StaffAccount] { [] }
    func disable(username: String) async throws -> Bool { false }
    func credentials(username: String) async throws -> StaffCredentials? { nil }
    func recordFailure(id: UUID, limit: Int, lockSeconds: Int) async throws {}
    func recordSuccess(id: UUID) async throws {}
    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date) async throws {}
    func account(sessionHash: [UInt8], at: Date) async throws -> StaffAccount? { nil }
}

/// No ledger tree: nothing is ever sealed.
struct NoLedgerTree: LedgerTreeStore, LedgerReviewStore {
    func entries(matching filter: LedgerFilter, afterLeaf: Int64, beforeLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] { [] }
    func seal(
        waitForLock: Bool, signer: @escaping @Sendable (Int, MerkleTree.Hash, Date) throws -> (kid: String, signature: [UInt8])
    ) async throws -> TreeHead? { nil }
    func latestHead() async throws -> TreeHead? { nil }
    func head(size: Int) async throws -> TreeHead? { nil }
    func heads() async throws -> [TreeHead] { [] }
    func nodes(_ refs: Set<MerkleNodeRef>) async throws -> [MerkleNodeRef: MerkleTree.Hash] { [:] }
    func leafIndex(seq: Int64) async throws -> Int? { nil }
    func auditSnapshot() async throws -> LedgerAudit.Snapshot { throw LedgerOnlyConsentStore.Unavailable() }
}
