import Foundation

/// Who confirmed that a guardian looks after a subject. A registration nobody confirmed is
/// pending and can do nothing on the subject's behalf.
public enum GuardianshipConfirmation: String, Sendable, Codable, CaseIterable {
    /// A regional gateway, from household-registry data, through its authenticated API.
    case gateway
    /// The subject in person at a self-service terminal.
    case terminal
    /// A relationship claim (`dependents`) in the guardian's own real-name assertion.
    case assertion
}

/// A guardian–subject registration.
public struct Guardianship: Sendable, Equatable {
    public var id: UUID
    public var guardianKey: SubjectKey
    public var guardianMaskedID: String
    public var subjectKey: SubjectKey
    public var subjectMaskedID: String
    /// Masked from the name the guardian gave: a registration never reveals the name on record.
    public var subjectMaskedName: String
    public var relationship: String
    public var createdAt: Date
    /// Who confirmed it; nil while it is pending.
    public var confirmation: GuardianshipConfirmation?
    public var confirmedAt: Date?
    /// Whether the guardian saved or printed the subject's offline code.
    public var codeSaved: Bool

    public var isConfirmed: Bool { confirmation != nil }

    public init(
        id: UUID, guardianKey: SubjectKey, guardianMaskedID: String, subjectKey: SubjectKey, subjectMaskedID: String,
        subjectMaskedName: String, relationship: String, createdAt: Date, confirmation: GuardianshipConfirmation? = nil,
        confirmedAt: Date? = nil, codeSaved: Bool = false
    ) {
        self.id = id
        self.guardianKey = guardianKey
        self.guardianMaskedID = guardianMaskedID
        self.subjectKey = subjectKey
        self.subjectMaskedID = subjectMaskedID
        self.subjectMaskedName = subjectMaskedName
        self.relationship = relationship
        self.createdAt = createdAt
        self.confirmation = confirmation
        self.confirmedAt = confirmedAt
        self.codeSaved = codeSaved
    }
}

/// Limits on family registrations (docs/format.md §4 defaults).
public struct GuardianQuotas: Sendable, Equatable {
    /// Registrations, pending or confirmed, one guardian may hold.
    public var familyMembersPerGuardian = 8
    /// Confirmed guardians one subject may have; pending registrations do not count, so nobody
    /// can take the family's places by declaring themselves.
    public var guardiansPerSubject = 3
    public init() {}
}

/// Why a family registration or its confirmation was refused.
public enum GuardianshipRefusal: String, Error, Sendable {
    case alreadyRegistered = "already-registered"
    case guardianQuota = "guardian-quota-exceeded"
    case subjectQuota = "subject-guardian-quota-exceeded"
}

/// Where family registrations are kept: in the same store as grants, which depend on them.
/// Every method that changes state writes its ledger record in the same transaction.
public protocol GuardianshipStore: Sendable {
    /// Registers a pair, pending unless `guardianship.confirmation` is set. The guardian's quota
    /// counts pending and confirmed registrations; the subject's counts confirmed ones only.
    func addGuardianship(_ guardianship: Guardianship, quotas: GuardianQuotas, ledger: LedgerRecord) async throws -> Result<
        Guardianship, GuardianshipRefusal
    >
    /// Confirms the pair's active registration, or registers the pair confirmed if there is none.
    /// Confirming a confirmed one changes nothing. The subject's quota counts the others.
    func confirmGuardianship(_ guardianship: Guardianship, by: GuardianshipConfirmation, quotas: GuardianQuotas, ledger: LedgerRecord)
        async throws -> Result<Guardianship, GuardianshipRefusal>
    /// The guardian's active registrations, pending and confirmed, oldest first.
    func guardianships(of guardian: SubjectKey) async throws -> [Guardianship]
    /// Every active registration naming the subject, pending and confirmed, oldest first.
    func guardianships(ofSubject subject: SubjectKey) async throws -> [Guardianship]
    /// An active registration by id.
    func guardianship(id: UUID) async throws -> Guardianship?
    /// The pair's registration if it is active and confirmed: the only kind that acts.
    func confirmedGuardianship(guardian: SubjectKey, subject: SubjectKey) async throws -> Guardianship?
    /// Notes that the guardian saved or printed the subject's offline code.
    func markCodeSaved(guardianshipID: UUID) async throws
    /// Removes an active registration; returns it as it was, or nil if there is none. Grants made
    /// through it stop at once. If its guardian saved the person's offline code, the same
    /// transaction ends that generation (and writes `retired`), so the card they hold fails.
    func removeGuardianship(id: UUID, ledger: LedgerRecord, retired: LedgerRecord) async throws -> Guardianship?
}
