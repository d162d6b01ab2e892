import Consent
import Crypto
import Database
import Display
import Foundation
import Hummingbird

/// `GET /.well-known/passby-keys.json`: the public keys that verify codes, retired ones included
/// while their codes may still be valid, and the ledger's key. `GET
/// /.well-known/passby-receipt-keys.json`: the key that signs consent receipts, on its own, so no
/// code verifier that reads the first set ever holds it. Cacheable, with a strong ETag over the body.
struct KeysController {
    let keys: LiveKeyRing
    /// Published with `use: "ledger"`: it verifies tree heads, never codes.
    let ledgerKey: LedgerKey
    /// Published apart, with `use: "receipt"`.
    let receiptKey: VerificationKey

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.get(".well-known/passby-keys.json") { request, context in
            var published = keys.current.published
            published.keys.append(JWK(VerificationKey(.ed25519(ledgerKey.key.publicKey)), use: "ledger"))
            return try await Self.respond(published, to: request, context: context)
        }
        router.get(".well-known/passby-receipt-keys.json") { request, context in
            try await Self.respond(JWKSet(keys: [JWK(receiptKey, use: "receipt")]), to: request, context: context)
        }
    }

    static func respond(_ set: JWKSet, to request: Request, context: PassbyRequestContext) async throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(set)
        let eTag = "\"" + Hex.encode(SHA256.hash(data: body).prefix(16)) + "\""
        return try await request.ifNoneMatch(eTag: eTag, context: context) {
            Response(
                status: .ok,
                headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=60"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }
}
