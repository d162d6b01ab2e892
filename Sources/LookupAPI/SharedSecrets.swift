import Consent
import Crypto
import Database
import Display
import Foundation
import Logging

/// What `serve` reads from the database's key material at start-up: every secret that all
/// instances on one database must share. An empty database gets them from older files in the
/// data directory (imported once) or new; after that the database's are the ones in force.
struct SharedSecrets: Sendable {
    /// Version 1 and every rotation since.
    var serverSecret: [ServerSecretVersion]
    var ledgerKey: LedgerKey
    var receiptKey: SigningKey
    var codeKeys: [ManagedKey]
    /// Only while the development identity provider is trusted.
    var developmentProvider: DevelopmentIdentityProvider?

    static func load(vault: KeyVault, data: DataOptions, development: Bool) async throws -> SharedSecrets {
        let directory = data.dataDirectory
        return SharedSecrets(
            serverSecret: try await ServerSecret.versions(from: vault, dataDirectory: directory),
            ledgerKey: try await LedgerKey.load(from: vault, dataDirectory: directory),
            receiptKey: try await receiptKey(from: vault, dataDirectory: directory),
            codeKeys: try await SharedCodeKeys(vault: vault).ensureSigningKey(importing: data.keyStore),
            developmentProvider: development ? try await DevelopmentIdentityProvider.load(from: vault, dataDirectory: directory) : nil)
    }

    /// The Ed25519 key that signs consent receipts (an older `<data-dir>/receipt.key` is imported).
    /// It is published apart from the code keys (`/.well-known/passby-receipt-keys.json`), so a
    /// verifier of codes that overlooks the kind still refuses a receipt, as signed by a key it
    /// does not know.
    static func receiptKey(from vault: KeyVault, dataDirectory: URL) async throws -> SigningKey {
        try SigningKey(
            algorithm: .edDSA,
            rawPrivateKey: try await vault.secret(
                "receipt-key", existing: { try SecretFile.loadIfPresent(at: dataDirectory.appendingPathComponent("receipt.key"), length: 32) },
                create: { SigningKey.generate(.edDSA).rawPrivateKey }))
    }
}

extension DataOptions {
    /// The key-encryption key: `PASSBY_KEK`, `PASSBY_KEK_FILE`, or `<data-dir>/kek`, made there
    /// only for the embedded database.
    func keyEncryptionKey() throws -> KeyEncryptionKey {
        let external = !(ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "").isEmpty
        return try KeyEncryptionKey.load(dataDirectory: dataDirectory, mayCreate: !external)
    }

    /// The database's key material, read and written through `database` (the owner's connection
    /// for an operator's command).
    func vault(_ database: TimedPostgres, logger: Logger) throws -> KeyVault {
        KeyVault(store: PostgresKeyMaterialStore(client: database, logger: logger), kek: try keyEncryptionKey())
    }
}
