import Crypto
import Database
import Foundation

/// A signed tree head: the ledger's size and root at a moment, signed by the ledger key.
public struct TreeHead: Sendable, Equatable {
    public var size: Int
    public var root: MerkleTree.Hash
    public var sealedAt: Date
    public var kid: String
    public var signature: [UInt8]
    /// The tree's frontier after `size` leaves, and the highest entry sequence number sealed.
    public var frontier: [MerkleTree.Hash]
    public var lastSeq: Int64

    public init(size: Int, root: MerkleTree.Hash, sealedAt: Date, kid: String, signature: [UInt8], frontier: [MerkleTree.Hash], lastSeq: Int64) {
        self.size = size
        self.root = root
        self.sealedAt = sealedAt
        self.kid = kid
        self.signature = signature
        self.frontier = frontier
        self.lastSeq = lastSeq
    }

    /// The bytes the signature covers:
    /// `passby-tree-head-v1\nsize=N\nroot=<hex>\ntime=<unix seconds>\n`.
    public static func signedBytes(size: Int, root: MerkleTree.Hash, sealedAt: Date) -> [UInt8] {
        let hex = Hex.encode(root)
        return Array("passby-tree-head-v1\nsize=\(size)\nroot=\(hex)\ntime=\(Int64(sealedAt.timeIntervalSince1970))\n".utf8)
    }
}

/// The key that signs tree heads. It is the ledger's own and never signs codes.
public struct LedgerKey: Sendable {
    public let key: Curve25519.Signing.PrivateKey

    /// The ledger key this database holds, shared by every instance; an older
    /// `<data-dir>/ledger.key` is imported into an empty database once.
    public static func load(from vault: KeyVault, dataDirectory: URL) async throws -> LedgerKey {
        let raw = try await vault.secret(
            "ledger-key", existing: { try SecretFile.loadIfPresent(at: dataDirectory.appendingPathComponent("ledger.key"), length: 32) },
            create: { Curve25519.Signing.PrivateKey().rawRepresentation.map { $0 } }, recordsDepend: true)
        return LedgerKey(key: try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
    }

    public init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    /// Base64url of the first 8 bytes of SHA-256 over the public key, as for code keys.
    public var kid: String { keyID(rawPublicKey: key.publicKey.rawRepresentation) }

    public func sign(size: Int, root: MerkleTree.Hash, sealedAt: Date) throws -> [UInt8] {
        Array(try key.signature(for: TreeHead.signedBytes(size: size, root: root, sealedAt: sealedAt)))
    }

    public static func verify(_ head: TreeHead, with publicKey: Curve25519.Signing.PublicKey) -> Bool {
        publicKey.isValidSignature(head.signature, for: TreeHead.signedBytes(size: head.size, root: head.root, sealedAt: head.sealedAt))
    }
}

/// Storage for the tree and its heads.
public protocol LedgerTreeStore: LedgerAuditSource {
    /// Under an advisory lock (one sealer at a time across instances), appends the entries not
    /// yet in the tree and stores a signed head. Returns nil when nothing is new, or when another
    /// sealer holds the lock and `waitForLock` is false (the background sealer skips its turn; an
    /// operator's `ledger seal` waits, then seals what is still new).
    func seal(
        waitForLock: Bool, signer: @escaping @Sendable (_ size: Int, _ root: MerkleTree.Hash, _ at: Date) throws -> (kid: String, signature: [UInt8])
    ) async throws -> TreeHead?
    func latestHead() async throws -> TreeHead?
    func head(size: Int) async throws -> TreeHead?
    func heads() async throws -> [TreeHead]
    /// Stored perfect-subtree roots, for proofs.
    func nodes(_ refs: Set<MerkleNodeRef>) async throws -> [MerkleNodeRef: MerkleTree.Hash]
    /// The leaf index of an entry, if sealed.
    func leafIndex(seq: Int64) async throws -> Int?
}
