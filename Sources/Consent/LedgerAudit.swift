import Crypto
import Database
import Foundation

/// The ledger's canonical forms, from which `passby ledger verify` (`LedgerAuditor`) recomputes
/// each entry's leaf hash and personal digest.
public enum LedgerAudit {
    /// One entry's fields as text, exactly as the canonical form writes them (see `sql/0005`).
    public struct EntryFields: Sendable {
        public var seq: Int64
        /// The non-personal fields, in canonical order, with `personal` holding the stored digest.
        public var fields: [(String, String)]
        /// salt (absent on entries older than it), requester, requester_masked, subject, subject_masked; nil once purged.
        public var personal: [(String, String)]?
        public var personalDigest: [UInt8]
        public var leafHash: [UInt8]

        public init(seq: Int64, fields: [(String, String)], personal: [(String, String)]?, personalDigest: [UInt8], leafHash: [UInt8]) {
            self.seq = seq
            self.fields = fields
            self.personal = personal
            self.personalDigest = personalDigest
            self.leafHash = leafHash
        }
    }

    /// The canonical entry bytes: `passby-ledger-v1` then one `name=value` line per field.
    public static func entryBytes(_ fields: [(String, String)]) -> [UInt8] {
        Array((["passby-ledger-v1"] + fields.map { "\($0.0)=\($0.1)" }).map { $0 + "\n" }.joined().utf8)
    }

    /// Lower-case hexadecimal, as PostgreSQL's `encode(…, 'hex')` writes it.
    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// The digest of the personal part: SHA-256 of its `name=value` lines.
    public static func personalDigest(_ fields: [(String, String)]) -> [UInt8] {
        Array(SHA256.hash(data: Array(fields.map { "\($0.0)=\($0.1)\n" }.joined().utf8)))
    }
}
