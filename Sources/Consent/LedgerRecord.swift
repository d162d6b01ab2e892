import Foundation

/// One ledger record before it is written. Persons appear only as keyed hashes and masked forms.
public struct LedgerRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case grantCreated = "grant-created"
        case grantWithdrawn = "grant-withdrawn"
        case grantRefused = "grant-refused"
        case familyMemberAdded = "family-member-added"
        case familyMemberConfirmed = "family-member-confirmed"
        case familyMemberRemoved = "family-member-removed"
        case familyMemberRefused = "family-member-refused"
        case lookupIssued = "lookup-issued"
        case lookupRefused = "lookup-refused"
        case verification
        case offlineCodeIssued = "offline-code-issued"
        case offlineCodeReplaced = "offline-code-replaced"
        /// A generation ended without a new code: a guardian who saved the card was removed.
        case offlineCodeRetired = "offline-code-retired"
        case offlineCodeRefused = "offline-code-refused"
        case review
        case purge
    }

    public var kind: Kind
    public var clientID: UUID?
    public var requesterKey: SubjectKey?
    public var requesterMasked: String?
    public var subjectKey: SubjectKey?
    public var subjectMasked: String?
    public var grantID: UUID?
    public var method: GrantMethod?
    public var legalBasis: LegalBasis?
    /// `ok`, or the reason of a refusal or verdict.
    public var result: String
    public var codeID: [UInt8]?
    public var codeExpiry: Date?
    /// The checkpoint staff member, for verifications made through a staff session.
    public var staffID: UUID?

    public init(
        kind: Kind, clientID: UUID? = nil, staffID: UUID? = nil, requesterKey: SubjectKey? = nil, requesterMasked: String? = nil,
        subjectKey: SubjectKey? = nil, subjectMasked: String? = nil, grantID: UUID? = nil, method: GrantMethod? = nil,
        legalBasis: LegalBasis? = nil, result: String = "ok", codeID: [UInt8]? = nil, codeExpiry: Date? = nil
    ) {
        self.kind = kind
        self.clientID = clientID
        self.staffID = staffID
        self.requesterKey = requesterKey
        self.requesterMasked = requesterMasked
        self.subjectKey = subjectKey
        self.subjectMasked = subjectMasked
        self.grantID = grantID
        self.method = method
        self.legalBasis = legalBasis
        self.result = result
        self.codeID = codeID
        self.codeExpiry = codeExpiry
    }
}

/// A ledger record as stored, with its sequence number and time.
public struct StoredLedgerRecord: Sendable, Equatable {
    public var seq: Int64
    public var at: Date
    public var record: LedgerRecord
}

/// Somewhere ledger records can be appended several at a time (see `LedgerBatchWriter`).
public protocol LedgerRecorder: Sendable {
    /// Several records in one statement and one commit: all are written or none.
    func record(_ records: [LedgerRecord]) async throws
}
