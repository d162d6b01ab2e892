import Crypto
import Foundation

/// Base64url without padding, as JWK fields and key ids use it.
func base64URL(_ bytes: some DataProtocol) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// A key id as docs/format.md §6 derives it: base64url of the first 8 bytes of SHA-256 over the raw public key.
func keyID(rawPublicKey: some DataProtocol) -> String {
    base64URL(Array(SHA256.hash(data: Array(rawPublicKey)).prefix(8)))
}
