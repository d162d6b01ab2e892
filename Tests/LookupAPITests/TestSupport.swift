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
        let store = KeyStore(directory: TestDirectory.path("keys"))
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

    /// Every store's in-memory twin, sharing one ledger as the PostgreSQL stores share one database.
    static func memory(
        configuration: PassbyConfiguration = .init(), database: any DatabaseProbe = AlwaysReady(), keys: LiveKeyRing? = nil
    ) async throws -> PassbyComponents {
        let consents = InMemoryConsentStore()
        let offlineCodes = InMemoryOfflineCodeStore(ledger: consents)
        await consents.attach(offlineCodes: offlineCodes)
        let tree = InMemoryLedgerTreeStore(ledger: consents)
        let stores = PassbyStores(
            clients: InMemoryAPIClientRepository(), statuses: InMemoryHealthStatusRepository(), consents: consents,
            offlineCodes: offlineCodes, staff: InMemoryStaffRepository(), ledgerTree: tree, reviews: tree,
            database: database)
        return PassbyComponents(
            configuration: configuration, personalData: personalData, keys: try keys ?? Self.keys().1, ledgerKey: ledgerKey,
            assertions: try await assertions(), stores: stores)
    }

    /// The application connects as `passby_app`, as `passby serve` does; the second client is the
    /// database owner's, for tests that inspect every table or play a superuser tampering with it.
    static func postgres(
        configuration: PassbyConfiguration = .init(), personalData: PersonalData = TestApp.personalData
    ) async throws -> (PassbyComponents, PostgresClient) {
        let database = try await ThrowawayDatabase.create()
        let application = try await database.asApplicationRole()
        let client = PostgresClient(configuration: application, backgroundLogger: Logger(label: "test"))
        let owner = PostgresClient(configuration: database, backgroundLogger: Logger(label: "test"))
        var components = PassbyComponents.postgres(
            client, configuration: configuration, personalData: personalData, keys: try Self.keys().1,
            ledgerKey: ledgerKey, assertions: try await assertions(), logger: Logger(label: "test"))
        components.services.append(owner)
        // Tests create clients and staff as operators do, with the owner's connection: the
        // service's role may not. Everything the service itself does still goes through its role.
        let logger = Logger(label: "test")
        components.stores.clients = OperatorClientWrites(
            service: components.stores.clients, owner: PostgresAPIClientRepository(client: owner.timed, logger: logger))
        components.stores.staff = OperatorStaffWrites(
            service: components.stores.staff, owner: PostgresStaffRepository(client: owner.timed, logger: logger))
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

/// A client repository whose creations and revocations are an operator's (`passby clients add`,
/// `revoke`), made as the database owner; lookups are the service's own.
struct OperatorClientWrites: APIClientRepository {
    let service: any APIClientRepository
    let owner: any APIClientRepository

    func create(name: String, role: Role) async throws -> (client: APIClient, key: String) { try await owner.create(name: name, role: role) }
    func register(name: String, role: Role, key: String) async throws -> APIClient { try await owner.register(name: name, role: role, key: key) }
    func client(keyHash: [UInt8]) async throws -> APIClient? { try await service.client(keyHash: keyHash) }
    func list() async throws -> [APIClient] { try await service.list() }
    /// As the owner; then this process's cache is dropped at once, as an in-process revocation
    /// does (another process's revocation reaches it by notice instead).
    func revoke(id: UUID) async throws -> Bool {
        defer { (service as? CachedAPIClientRepository)?.cache.invalidate() }
        return try await owner.revoke(id: id)
    }
}

/// A staff repository whose accounts are an operator's (`passby staff add`, `disable`), made as
/// the database owner; logins and sessions are the service's own.
struct OperatorStaffWrites: StaffRepository {
    let service: any StaffRepository
    let owner: any StaffRepository

    func add(username: String, passwordHash: String) async throws -> StaffAccount? {
        try await owner.add(username: username, passwordHash: passwordHash)
    }
    func list() async throws -> [StaffAccount] { try await service.list() }
    func disable(username: String) async throws -> Bool { try await owner.disable(username: username) }
    func credentials(username: String) async throws -> StaffCredentials? { try await service.credentials(username: username) }
    func reserveAttempt(id: UUID, limit: Int, lockSeconds: Int, at: Date) async throws -> Date? {
        try await service.reserveAttempt(id: id, limit: limit, lockSeconds: lockSeconds, at: at)
    }
    func recordSuccess(id: UUID) async throws { try await service.recordSuccess(id: id) }
    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date, at: Date) async throws {
        try await service.createSession(tokenHash: tokenHash, staffID: staffID, expiresAt: expiresAt, at: at)
    }
    func account(sessionHash: [UInt8], idleSeconds: Int, at: Date) async throws -> StaffAccount? {
        try await service.account(sessionHash: sessionHash, idleSeconds: idleSeconds, at: at)
    }
    func endSession(sessionHash: [UInt8]) async throws -> Bool { try await service.endSession(sessionHash: sessionHash) }
}
