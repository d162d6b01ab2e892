import Consent
import Crypto
import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

/// The key material every instance on one database shares (issue 16): sealed under the
/// key-encryption key, made once, the same for every instance, and useless without the KEK.
@Suite("Shared key material", .timeLimit(.minutes(5)))
struct KeyVaultTests {
    static let kek = KeyEncryptionKey(bytes: Array(repeating: 0x42, count: 32))
    static let otherKEK = KeyEncryptionKey(bytes: Array(repeating: 0x43, count: 32))
    let logger = Logger(label: "test")

    /// Runs `body` with a fresh store of `kind` (and, for PostgreSQL, its client).
    func withStore(_ kind: StoreKind, _ body: (any KeyMaterialStore, PostgresClient?) async throws -> Void) async throws {
        switch kind {
        case .memory: try await body(InMemoryKeyMaterialStore(), nil)
        case .postgres:
            try await withThrowawayClient { client in
                try await body(PostgresKeyMaterialStore(client: client.timed, logger: logger), client)
            }
        }
    }

    @Test("a secret is made once: later reads, and other instances, get the same bytes", arguments: StoreKind.allCases)
    func madeOnce(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let vault = KeyVault(store: store, kek: Self.kek)
            let first = try await vault.secret("server-secret", existing: { nil }, create: { KeyVault.random(32) })
            #expect(first.count == 32)
            let again = try await vault.secret("server-secret", existing: { [9, 9] }, create: { KeyVault.random(32) })
            #expect(again == first, "an existing secret is never replaced by an import or a new one")
            // Ten instances starting at once on an empty name all end up with the first one stored.
            let raced = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for index in 0..<10 {
                    group.addTask { try await vault.secret("ledger-key", existing: { nil }, create: { Array(repeating: UInt8(index), count: 32) }) }
                }
                return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
            }
            #expect(raced.count == 1)
        }
    }

    @Test("an empty database imports an existing secret once", arguments: StoreKind.allCases)
    func importsOnce(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let vault = KeyVault(store: store, kek: Self.kek)
            let imported = Array(repeating: UInt8(7), count: 32)
            let stored = try await vault.secret("receipt-key", existing: { imported }, create: { KeyVault.random(32) })
            #expect(stored == imported)
            let opened = try await vault.opened(prefix: "receipt")
            #expect(opened["receipt-key"] == imported)
        }
    }

    @Test("another key-encryption key, or a sealed value moved to another name, does not open", arguments: StoreKind.allCases)
    func sealedToItsKeyAndName(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let vault = KeyVault(store: store, kek: Self.kek)
            _ = try await vault.secret("code-key:a", existing: { nil }, create: { KeyVault.random(32) })
            await #expect(throws: KeyVault.VaultError.self) {
                try await KeyVault(store: store, kek: Self.otherKEK).secret("code-key:a", existing: { nil }, create: { KeyVault.random(32) })
            }
            let sealed = try #require(try await store.entries(prefix: "code-key:a")["code-key:a"])
            try await store.put(name: "code-key:b", sealed: sealed)
            await #expect(throws: KeyVault.VaultError.self) { try await vault.opened(prefix: "code-key:") }
        }
    }

    @Test("put replaces; entries are found by prefix only", arguments: StoreKind.allCases)
    func putAndPrefix(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let vault = KeyVault(store: store, kek: Self.kek)
            try await vault.put([1], name: "code-key:x")
            try await vault.put([2], name: "code-key:x")
            try await vault.add([3], name: "code-key:y")
            try await vault.add([4], name: "code-key:y")
            try await vault.put([5], name: "ledger-key")
            let opened = try await vault.opened(prefix: "code-key:")
            #expect(opened == ["code-key:x": [2], "code-key:y": [3]])
        }
    }

    @Test("the table holds no plain secret, and the service's role may read it but not write it")
    func postgresHoldsOnlySealedBytes() async throws {
        try await withStore(.postgres) { store, client in
            let client = try #require(client)
            let secret = Array(repeating: UInt8(0x5a), count: 32)
            _ = try await KeyVault(store: store, kek: Self.kek).secret("server-secret", existing: { secret }, create: { [] })
            let rows = try await client.query("SELECT sealed FROM key_material", logger: logger)
            for try await sealed in rows.decode(ByteBuffer.self) {
                let bytes = Array(buffer: sealed)
                #expect(bytes.count == 12 + 32 + 16, "nonce, ciphertext and tag")
                #expect(!Data(bytes).contains(Data(secret[0..<8])))
            }
            try await client.withConnection { connection in
                try await connection.query("SET ROLE passby_app", logger: logger)
                #expect(try await connection.query("SELECT name FROM key_material", logger: logger).collect().count == 1)
                for statement: PostgresQuery in [
                    "INSERT INTO key_material (name, sealed) VALUES ('code-key:planted', '\\x00')", "UPDATE key_material SET sealed = sealed",
                    "DELETE FROM key_material",
                ] {
                    await #expect(throws: PSQLError.self, "\(statement.sql)") { try await connection.query(statement, logger: logger).collect() }
                }
                try await connection.query("RESET ROLE", logger: logger)
            }
        }
    }

    @Test("the server secret: PASSBY_SECRET or an older file is imported once; a PASSBY_SECRET that differs later is an error")
    func serverSecret() async throws {
        let directory = TestDirectory.path("secret")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let vault = KeyVault(store: InMemoryKeyMaterialStore(), kek: Self.kek)
        let configured = String(repeating: "ab", count: 32)
        let first = try await ServerSecret.load(from: vault, dataDirectory: directory, environment: ["PASSBY_SECRET": configured])
        #expect(first == SymmetricKey(data: Array(repeating: UInt8(0xab), count: 32)))
        let again = try await ServerSecret.load(from: vault, dataDirectory: directory, environment: [:])
        #expect(again == first)
        await #expect(throws: ServerSecret.SecretError.differsFromDatabase) {
            try await ServerSecret.load(from: vault, dataDirectory: directory, environment: ["PASSBY_SECRET": String(repeating: "cd", count: 32)])
        }
        await #expect(throws: ServerSecret.SecretError.badEnvironmentValue) {
            try await ServerSecret.load(from: vault, dataDirectory: directory, environment: ["PASSBY_SECRET": "abcd"])
        }
        // An older instance's file goes into an empty database.
        let file = Array(repeating: UInt8(0x11), count: 32)
        try Data(file).write(to: directory.appendingPathComponent("secret"))
        let fresh = KeyVault(store: InMemoryKeyMaterialStore(), kek: Self.kek)
        let imported = try await ServerSecret.load(from: fresh, dataDirectory: directory, environment: [:])
        #expect(imported == SymmetricKey(data: file))
    }

    @Test("a new server-secret version is stored sealed, announced ahead of its time, and read back by every instance")
    func serverSecretVersions() async throws {
        let directory = TestDirectory.path("versions")
        let store = InMemoryKeyMaterialStore()
        let vault = KeyVault(store: store, kek: Self.kek)
        let versions = try await ServerSecret.versions(from: vault, dataDirectory: directory, environment: [:])
        #expect(versions.map(\.number) == [1])
        try await ServerSecret.addVersion(to: vault, after: versions, now: 1_000, delay: 15)
        let ring = ServerSecretRing(versions, clock: { 1_010 })
        let read = try await ServerSecret.versions(from: vault, after: ring)
        #expect(read.map(\.number) == [1, 2] && read[1].activatesAt == 1_015)
        #expect(ring.update(read))
        #expect(ring.snapshot().current.number == 1, "announced, not yet in force")
        #expect(ServerSecretRing(read, clock: { 1_015 }).snapshot().current.number == 2)
        // Another KEK cannot open it, and a version moved to another name does not open either.
        let sealed = try #require(try await store.entries(prefix: "server-secret:v2")["server-secret:v2"])
        try await store.put(name: "server-secret:v3", sealed: sealed)
        await #expect(throws: KeyVault.VaultError.self) { try await ServerSecret.versions(from: vault, after: ring) }
    }

    @Test("a database that holds records gets no new server secret or ledger key: only the old one, restored or imported")
    func recordsDepend() async throws {
        let directory = TestDirectory.path("restored")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let restored = KeyVault(store: InMemoryKeyMaterialStore(holdsRecords: true), kek: Self.kek)
        await #expect(throws: KeyVault.VaultError.self) { try await ServerSecret.load(from: restored, dataDirectory: directory, environment: [:]) }
        await #expect(throws: KeyVault.VaultError.self) { try await LedgerKey.load(from: restored, dataDirectory: directory) }
        // A key a record does not depend on is made as before.
        _ = try await restored.secret("receipt-key", existing: { nil }, create: { KeyVault.random(32) })
        // The old file is imported.
        try Data(Array(repeating: UInt8(0x22), count: 32)).write(to: directory.appendingPathComponent("secret"))
        let imported = try await ServerSecret.load(from: restored, dataDirectory: directory, environment: [:])
        #expect(imported == SymmetricKey(data: Array(repeating: UInt8(0x22), count: 32)))
        // PostgreSQL says whether it holds records.
        try await withStore(.postgres) { store, client in
            let client = try #require(client)
            #expect(try await store.holdsRecords() == false)
            try await client.query("INSERT INTO ledger (kind, result) VALUES ('verification', 'valid')", logger: logger)
            #expect(try await store.holdsRecords() == true)
        }
    }

    @Test("the key-encryption key: PASSBY_KEK, else PASSBY_KEK_FILE, else <data-dir>/kek made once with mode 0600")
    func keyEncryptionKey() throws {
        let directory = TestDirectory.path("kek")
        let made = try KeyEncryptionKey.load(dataDirectory: directory, environment: [:])
        let file = directory.appendingPathComponent("kek")
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.count == 65 && text.hasSuffix("\n"), "64 hex characters and a newline")
        let sealed = made.seal([1, 2, 3], name: "n")
        #expect(try KeyEncryptionKey.load(dataDirectory: directory, environment: [:]).open(sealed, name: "n") == [1, 2, 3])
        #expect(
            try KeyEncryptionKey.load(dataDirectory: directory, environment: ["PASSBY_KEK_FILE": file.path]).open(sealed, name: "n") == [1, 2, 3])
        #expect(
            try KeyEncryptionKey.load(dataDirectory: directory, environment: ["PASSBY_KEK": text.trimmingCharacters(in: .newlines)])
                .open(sealed, name: "n") == [1, 2, 3])
        #expect(
            try KeyEncryptionKey.load(dataDirectory: directory, environment: ["PASSBY_KEK": String(repeating: "0", count: 64)]).open(
                sealed, name: "n") == nil)
        for bad in ["abcd", String(repeating: "g", count: 64), String(repeating: "0", count: 66)] {
            #expect(throws: KeyEncryptionKey.KEKError.self) { try KeyEncryptionKey.load(dataDirectory: directory, environment: ["PASSBY_KEK": bad]) }
        }
        #expect(throws: KeyEncryptionKey.KEKError.self, "a shared database's instance is never given a key of its own") {
            try KeyEncryptionKey.load(dataDirectory: TestDirectory.path("fresh"), mayCreate: false, environment: [:])
        }
        #expect(throws: KeyEncryptionKey.KEKError.self) {
            try KeyEncryptionKey.load(dataDirectory: directory, environment: ["PASSBY_KEK_FILE": directory.appendingPathComponent("missing").path])
        }
    }
}
