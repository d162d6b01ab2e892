import Consent
import Database
import Foundation

/// A signed tree head as the API and `passby ledger export-heads` show it (hashes in hex).
struct TreeHeadBody: Encodable {
    var size: Int
    var root: String
    var sealedAt: Date
    var kid: String
    var signature: String

    init(_ head: TreeHead) {
        size = head.size
        root = Self.hex(head.root)
        sealedAt = head.sealedAt
        kid = head.kid
        signature = Self.hex(head.signature)
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
}
