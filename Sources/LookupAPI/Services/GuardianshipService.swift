import Consent
import Foundation

/// Fixed rules of family registrations.
enum GuardianshipRules {
    static let relationships: Set<String> = ["spouse", "parent", "child", "grandparent", "grandchild", "sibling", "relative", "carer", "other"]
    static let maximumNameLength = 100
}

/// Guardians register the people they look after (their family members); a gateway, the subject
/// at a terminal or the guardian's own assertion confirms it, and only a confirmed guardian acts.
///
/// A registration answers the same whether or not Passby knows the person or the name fits, so it
/// cannot be used to test a name against an ID number; it simply stays pending.
struct GuardianshipService: Sendable {
    let identities: Identities
    let consents: any ConsentStore
    let refusals: RefusalRecorder
    let quotas: GuardianQuotas
    let clock: any PassbyClock

    /// Registers `idNumber` as a family member of the guardian the assertion names: pending, or
    /// confirmed at once when the assertion's `dependents` claim names the person.
    func add(idNumber: String, name: String, relationship: String, assertion: String?, clientID: UUID) async throws -> Guardianship {
        try await refusals.recording(.familyMemberRefused, clientID: clientID) { record in
            let now = clock.now()
            let guardian = try await identities.person(assertion: assertion, client: clientID, at: now, noting: &record)
            let subject = try identities.identityNumber(idNumber, at: now)
            record.subjectKey = identities.key(subject)
            record.subjectMasked = subject.masked
            guard GuardianshipRules.relationships.contains(relationship) else { throw Refusal.invalidRelationship }
            let normalized = PersonalData.normalizeName(name)
            guard !normalized.isEmpty, normalized.count <= GuardianshipRules.maximumNameLength else { throw Refusal.invalidName }
            guard subject != guardian.id else { throw Refusal.selfRegistration }
            _ = try identities.eligibleGroup(of: subject, at: now)
            let confirmation: GuardianshipConfirmation? = guardian.dependents.contains(subject) ? .assertion : nil
            // A known subject's registrations hold its key as stored, and follow it when it moves
            // to a newer server-secret version; the answer is the same either way.
            let known = try await identities.statuses.record(for: identities.key(subject))
            let guardianship = Guardianship(
                id: UUID(), guardianKey: identities.key(guardian.id), guardianMaskedID: guardian.id.masked,
                subjectKey: known?.subjectKey ?? identities.key(subject),
                subjectMaskedID: subject.masked, subjectMaskedName: PersonalData.maskName(normalized), relationship: relationship, createdAt: now,
                confirmation: confirmation)
            var added = record
            added.kind = .familyMemberAdded
            added.result = confirmation.map { "confirmed-by-\($0.rawValue)" } ?? "pending"
            switch try await consents.addGuardianship(guardianship, quotas: quotas, ledger: added) {
            case .failure(.alreadyRegistered) where confirmation != nil:
                // A registration made while pending (or before confirmation existed), now vouched for.
                return try await confirm(guardianship, by: .assertion, record: record)
            case .failure(let refusal): throw Refusal.guardianship(refusal)
            case .success(let stored): return stored
            }
        }
    }

    /// The guardian's own registrations, pending and confirmed.
    func list(assertion: String?, clientID: UUID) async throws -> [Guardianship] {
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now())
        return try await consents.guardianships(of: identities.key(guardian.id))
    }

    /// Every registration naming the person that the guardian's own confirmed registration `id`
    /// names: what a confirmed guardian may see. Anything else is `notFound`.
    func guardians(ofRegistration id: UUID, assertion: String?, clientID: UUID) async throws -> [Guardianship] {
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now())
        guard let own = try await consents.guardianship(id: id), identities.key(guardian.id).matches(own.guardianKey), own.isConfirmed else {
            throw Refusal.notFound
        }
        return try await consents.guardianships(ofSubject: own.subjectKey)
    }

    /// Removes a registration: the guardian's own, or, for a confirmed guardian of the same
    /// person, anyone's. Anything else is `notFound`, so ids reveal nothing.
    func remove(id: UUID, assertion: String?, clientID: UUID) async throws {
        try await refusals.recording(.familyMemberRefused, clientID: clientID) { record in
            let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now(), noting: &record)
            let key = identities.key(guardian.id)
            guard let target = try await consents.guardianship(id: id) else { throw Refusal.notFound }
            var allowed = key.matches(target.guardianKey)
            if !allowed { allowed = try await consents.confirmedGuardianship(guardian: key, subject: target.subjectKey) != nil }
            guard allowed else { throw Refusal.notFound }
            try await remove(target, record: record)
        }
    }

    /// A gateway confirms, from household-registry data, that `guardianIdNumber` looks after
    /// `subjectIdNumber`: a pending registration becomes confirmed, or a confirmed one is made.
    func confirm(guardianIdNumber: String, subjectIdNumber: String, relationship: String, clientID: UUID) async throws -> Guardianship {
        try await refusals.recording(.familyMemberRefused, clientID: clientID) { record in
            let now = clock.now()
            let guardian = try identities.identityNumber(guardianIdNumber, field: "guardian_id_number", at: now)
            let subject = try identities.identityNumber(subjectIdNumber, field: "subject_id_number", at: now)
            record.requesterKey = identities.key(guardian)
            record.requesterMasked = guardian.masked
            record.subjectKey = identities.key(subject)
            record.subjectMasked = subject.masked
            guard GuardianshipRules.relationships.contains(relationship) else { throw Refusal.invalidRelationship }
            guard subject != guardian else { throw Refusal.selfRegistration }
            _ = try identities.eligibleGroup(of: subject, at: now)
            let known = try await identities.statuses.record(for: identities.key(subject))
            let template = Guardianship(
                id: UUID(), guardianKey: identities.key(guardian), guardianMaskedID: guardian.masked,
                subjectKey: known?.subjectKey ?? identities.key(subject),
                subjectMaskedID: subject.masked, subjectMaskedName: known?.maskedName ?? "", relationship: relationship, createdAt: now)
            return try await confirm(template, by: .gateway, record: record)
        }
    }

    /// The registrations naming the person at a terminal.
    func registrations(of subject: TerminalCheckIn.Subject) async throws -> [Guardianship] {
        try await consents.guardianships(ofSubject: subject.key)
    }

    /// The person at a terminal confirms a registration naming them.
    func confirmAtTerminal(id: UUID, subject: TerminalCheckIn.Subject, record: LedgerRecord) async throws -> Guardianship {
        guard let target = try await consents.guardianship(id: id), subject.key.matches(target.subjectKey) else { throw Refusal.notFound }
        return try await confirm(target, by: .terminal, record: record)
    }

    /// The person at a terminal removes a registration naming them.
    func removeAtTerminal(id: UUID, subject: TerminalCheckIn.Subject, record: LedgerRecord) async throws {
        guard let target = try await consents.guardianship(id: id), subject.key.matches(target.subjectKey) else { throw Refusal.notFound }
        try await remove(target, record: record)
    }

    private func confirm(_ guardianship: Guardianship, by confirmation: GuardianshipConfirmation, record: LedgerRecord) async throws -> Guardianship {
        var confirmed = record
        confirmed.kind = .familyMemberConfirmed
        confirmed.result = "confirmed-by-\(confirmation.rawValue)"
        switch try await consents.confirmGuardianship(guardianship, by: confirmation, quotas: quotas, ledger: confirmed) {
        case .failure(let refusal): throw Refusal.guardianship(refusal)
        case .success(let stored): return stored
        }
    }

    /// Removes a registration; grants made through it stop at once. If its guardian saved the
    /// person's offline code, the same transaction ends that generation, so the card they hold
    /// fails; a code being saved for them at that moment is refused (`GuardianshipGone`).
    private func remove(_ target: Guardianship, record: LedgerRecord) async throws {
        var removal = record
        removal.kind = .familyMemberRemoved
        removal.result = "ok"
        var retired = record
        retired.kind = .offlineCodeRetired
        guard try await consents.removeGuardianship(id: target.id, ledger: removal, retired: retired) != nil else { throw Refusal.notFound }
    }
}
