import Crypto
import Foundation

/// The signature algorithms a code may use; verifiers accept these and nothing else.
public enum CodeAlgorithm: String, Sendable, Codable, CaseIterable {
    case edDSA = "EdDSA"
    case es256 = "ES256"

    /// The COSE algorithm identifier (RFC 9053).
    public var coseIdentifier: Int64 {
        switch self {
        case .edDSA: -8
        case .es256: -7
        }
    }

    public init?(coseIdentifier: Int64) {
        switch coseIdentifier {
        case -8: self = .edDSA
        case -7: self = .es256
        default: return nil
        }
    }
}

/// A public key that verifies codes, with its `kid`.
public struct VerificationKey: Sendable, Equatable {
    public enum Material: Sendable, Equatable {
        case ed25519(Curve25519.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)

        public static func == (a: Material, b: Material) -> Bool {
            switch (a, b) {
            case (.ed25519(let x), .ed25519(let y)): x.rawRepresentation == y.rawRepresentation
            case (.p256(let x), .p256(let y)): x.x963Representation == y.x963Representation
            default: false
            }
        }
    }

    public let material: Material

    public init(_ material: Material) { self.material = material }

    public var algorithm: CodeAlgorithm {
        switch material {
        case .ed25519: .edDSA
        case .p256: .es256
        }
    }

    /// Ed25519: the 32 raw bytes; P-256: the 65-byte uncompressed point.
    public var rawPublicKey: [UInt8] {
        switch material {
        case .ed25519(let key): Array(key.rawRepresentation)
        case .p256(let key): Array(key.x963Representation)
        }
    }

    /// The first 8 bytes of SHA-256 over the raw public key (docs/format.md §6).
    public var kid: [UInt8] { Array(SHA256.hash(data: rawPublicKey).prefix(8)) }

    /// Checks a signature over `message`; ES256 signatures are raw r‖s (64 bytes), never DER.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch material {
        case .ed25519(let key):
            return signature.count == 64 && key.isValidSignature(signature, for: message)
        case .p256(let key):
            guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else {
                return false
            }
            return key.isValidSignature(parsed, for: message)
        }
    }
}

/// A private key that signs codes.
public struct SigningKey: Sendable {
    public enum Material: Sendable {
        case ed25519(Curve25519.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
    }

    public let material: Material

    public init(_ material: Material) { self.material = material }

    /// A new random key.
    public static func generate(_ algorithm: CodeAlgorithm) -> SigningKey {
        switch algorithm {
        case .edDSA: SigningKey(.ed25519(Curve25519.Signing.PrivateKey()))
        case .es256: SigningKey(.p256(P256.Signing.PrivateKey()))
        }
    }

    /// A key from its raw private bytes (Ed25519 seed or P-256 scalar, 32 bytes each).
    public init(algorithm: CodeAlgorithm, rawPrivateKey: [UInt8]) throws {
        switch algorithm {
        case .edDSA: self.init(.ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey)))
        case .es256: self.init(.p256(try P256.Signing.PrivateKey(rawRepresentation: rawPrivateKey)))
        }
    }

    public var rawPrivateKey: [UInt8] {
        switch material {
        case .ed25519(let key): Array(key.rawRepresentation)
        case .p256(let key): Array(key.rawRepresentation)
        }
    }

    public var publicKey: VerificationKey {
        switch material {
        case .ed25519(let key): VerificationKey(.ed25519(key.publicKey))
        case .p256(let key): VerificationKey(.p256(key.publicKey))
        }
    }

    public var algorithm: CodeAlgorithm { publicKey.algorithm }
    public var kid: [UInt8] { publicKey.kid }

    /// Signs `message`: Ed25519, or ECDSA P-256 with SHA-256 as raw r‖s.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        switch material {
        case .ed25519(let key): Array(try key.signature(for: message))
        case .p256(let key): Array(try key.signature(for: message).rawRepresentation)
        }
    }
}

/// Base64url without padding, as JWK and `kid` strings use it.
public enum Base64URL {
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
