import Foundation

/// An offline code as stored: its claims (masked data only), so it can be re-printed and re-signed.
public struct OfflineCodeRecord: Sendable, Equatable {
    public var id: UUID
    public var subjectKey: SubjectKey
    public var generation: Int64
    /// The encoded CWT claims of the code.
    public var claims: [UInt8]
    public var issuedAt: Date
    public var expiresAt: Date

    public init(id: UUID, subjectKey: SubjectKey, generation: Int64, claims: [UInt8], issuedAt: Date, expiresAt: Date) {
        self.id = id
        self.subjectKey = subjectKey
        self.generation = generation
        self.claims = claims
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// Whether an issue may return the current code or must start a new generation.
public enum OfflineIssue: Sendable {
    /// "Apply" / "Save": the current code if it is still valid, else a new generation.
    case currentOrNew
    /// "Replace": always a new generation; every earlier one fails from the commit on.
    case replace
}

/// What `OfflineCodeStore.issue` did.
public struct OfflineIssueOutcome: Sendable, Equatable {
    public var code: OfflineCodeRecord
    /// False when the current, still valid code was returned.
    public var isNew: Bool
}

/// `issue` was asked for a guardian whose registration is gone or no longer confirmed.
public struct GuardianshipGone: Error, Equatable {
    public init() {}
}

/// Storage for generations and offline codes.
public protocol OfflineCodeStore: Sendable {
    /// Issues (or returns) a subject's code in one transaction. `claims` builds the claims for a
    /// new generation: (generation, code id) → (encoded claims, issued, expires). With
    /// `guardianship`, the transaction first makes sure that registration is still active and
    /// confirmed, else throws `GuardianshipGone`: a removal that committed first wins.
    func issue(
        subject: SubjectKey, subjectReference: [UInt8], mode: OfflineIssue, at: Date, ledger: LedgerRecord, guardianship: UUID?,
        claims: @escaping @Sendable (Int64, UUID) throws -> (claims: [UInt8], issuedAt: Date, expiresAt: Date)
    ) async throws -> OfflineIssueOutcome
    /// Ends the subject's current generation without a new code, so every card printed so far
    /// fails; returns the new generation, or nil if the subject never had a code.
    func retire(subject: SubjectKey, ledger: LedgerRecord) async throws -> Int64?
    /// The subject's code of the current generation, if any.
    func currentCode(subject: SubjectKey) async throws -> OfflineCodeRecord?
    func code(id: UUID) async throws -> OfflineCodeRecord?
    /// The subject and current generation a code's subject reference names.
    func currentGeneration(subjectReference: [UInt8]) async throws -> (subject: SubjectKey, generation: Int64)?
}

extension PersonalData {
    /// The 8-byte subject reference an offline code carries: it names the subject to Passby only.
    public func subjectReference(_ key: SubjectKey) -> [UInt8] {
        Array(keyedHash(domain: "subject-reference", key.bytes).prefix(8))
    }
}
