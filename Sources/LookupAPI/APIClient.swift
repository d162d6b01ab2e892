import Crypto
import Display
import Foundation

/// The roles of docs/format.md §1, plus `checkpoint` for verification devices.
enum Role: String, Sendable, Codable, CaseIterable {
    case helper, gateway, guardian, terminal, reviewer, checkpoint
}

/// A registered API client. Its key is never kept; only the key's SHA-256 is.
struct APIClient: Sendable, Equatable, Codable {
    var id: UUID
    var name: String
    var role: Role
    var createdAt: Date
    var revokedAt: Date?
    /// True for a checkpoint staff member's session, which acts with role `checkpoint`.
    var isStaffSession = false
}

/// Bearer keys: `pbk_` and 43 base64url characters (256 random bits).
enum ClientKey {
    static let prefix = "pbk_"

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + Base64URL.encode(bytes)
    }

    static func hash(_ key: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(key.utf8)))
    }
}

/// Where API clients are stored.
protocol APIClientRepository: Sendable {
    /// Registers a client and returns it with its key, which is shown once.
    func create(name: String, role: Role) async throws -> (client: APIClient, key: String)
    /// Registers a client with a key chosen by the caller (Passby's own web client).
    func register(name: String, role: Role, key: String) async throws -> APIClient
    /// The unrevoked client whose key hashes to `keyHash`.
    func client(keyHash: [UInt8]) async throws -> APIClient?
    func list() async throws -> [APIClient]
    /// Revokes a client; false if there is no such client or it was revoked already.
    func revoke(id: UUID) async throws -> Bool
}

/// An in-memory repository for fast unit tests.
actor InMemoryAPIClientRepository: APIClientRepository {
    private var clients: [(client: APIClient, keyHash: [UInt8])] = []

    func create(name: String, role: Role) -> (client: APIClient, key: String) {
        let key = ClientKey.generate()
        return (register(name: name, role: role, key: key), key)
    }

    func register(name: String, role: Role, key: String) -> APIClient {
        let client = APIClient(id: UUID(), name: name, role: role, createdAt: Date(), revokedAt: nil)
        clients.append((client, ClientKey.hash(key)))
        return client
    }

    func client(keyHash: [UInt8]) -> APIClient? {
        clients.first { $0.keyHash == keyHash && $0.client.revokedAt == nil }?.client
    }

    func list() -> [APIClient] { clients.map(\.client) }

    func revoke(id: UUID) -> Bool {
        guard let index = clients.firstIndex(where: { $0.client.id == id && $0.client.revokedAt == nil }) else { return false }
        clients[index].client.revokedAt = Date()
        return true
    }
}
