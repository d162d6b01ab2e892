import Consent
import Crypto
import Display
import Foundation
import Hummingbird

/// `GET /.well-known/passby-keys.json`: the public keys that verify codes, retired ones included
/// while their codes may still be valid. Cacheable, with a strong ETag over the body.
struct KeysController {
    let keys: LiveKeyRing
    /// Published with `use: "ledger"`: it verifies tree heads, never codes.
    let ledgerKey: LedgerKey

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.get(".well-known/passby-keys.json") { request, context in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var published = keys.current.published
            published.keys.append(JWK(VerificationKey(.ed25519(ledgerKey.key.publicKey)), use: "ledger"))
            let body = try encoder.encode(published)
            let eTag = "\"" + SHA256.hash(data: body).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
            return try await request.ifNoneMatch(eTag: eTag, context: context) {
                Response(
                    status: .ok,
                    headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=60"],
                    body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
        }
    }
}
