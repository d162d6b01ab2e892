import Database
import Display
import Foundation

/// Signs code claims with the active key, and names new codes. Receipts are signed with the
/// receipt key instead, which no code verifier holds.
struct CodeSigner: Sendable {
    let keys: LiveKeyRing
    let issuer: String
    let receiptKey: SigningKey

    func sign(_ claims: CodeClaims) throws -> String {
        if claims.kind == .receipt { return try CodeFormat.encode(claims, with: receiptKey) }
        guard let key = keys.current.signing else { throw Refusal.noSigningKey }
        return try CodeFormat.encode(claims, with: key)
    }

    /// 16 random bytes naming a code in the ledger.
    static func newCodeID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}

extension Date {
    /// Whole Unix seconds, as code claims carry them.
    var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }

    init(unixSeconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(unixSeconds)) }
}
