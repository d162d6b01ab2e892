import Foundation

/// A reviewer's filter over sealed ledger entries.
public struct LedgerFilter: Sendable, Equatable {
    public var subjectKey: SubjectKey?
    public var requesterKey: SubjectKey?
    public var kind: String?
    public var result: String?
    public var clientID: UUID?
    public var from: Date?
    public var to: Date?

    public init(
        subjectKey: SubjectKey? = nil, requesterKey: SubjectKey? = nil, kind: String? = nil, result: String? = nil,
        clientID: UUID? = nil, from: Date? = nil, to: Date? = nil
    ) {
        self.subjectKey = subjectKey
        self.requesterKey = requesterKey
        self.kind = kind
        self.result = result
        self.clientID = clientID
        self.from = from
        self.to = to
    }
}

/// One sealed entry as a reviewer sees it: masked forms, never keyed hashes.
public struct ReviewedEntry: Sendable, Equatable {
    public var leafIndex: Int64
    public var seq: Int64
    public var kind: String
    public var at: String
    public var clientID: String
    public var staffID: String
    public var requesterMasked: String
    public var subjectMasked: String
    public var grantID: String
    public var method: String
    public var legalBasis: String
    public var result: String
    public var codeID: String
    public var codeExpiry: String

    public init(
        leafIndex: Int64, seq: Int64, kind: String, at: String, clientID: String, staffID: String, requesterMasked: String,
        subjectMasked: String, grantID: String, method: String, legalBasis: String, result: String, codeID: String, codeExpiry: String
    ) {
        self.leafIndex = leafIndex
        self.seq = seq
        self.kind = kind
        self.at = at
        self.clientID = clientID
        self.staffID = staffID
        self.requesterMasked = requesterMasked
        self.subjectMasked = subjectMasked
        self.grantID = grantID
        self.method = method
        self.legalBasis = legalBasis
        self.result = result
        self.codeID = codeID
        self.codeExpiry = codeExpiry
    }
}

/// Reviewers page through sealed entries in leaf order: a leaf index never changes once given,
/// so a cursor over it returns every entry exactly once however many are added meanwhile.
public protocol LedgerReviewStore: Sendable {
    func entries(matching filter: LedgerFilter, afterLeaf: Int64, beforeLeaf: Int64, limit: Int) async throws -> [ReviewedEntry]
}
