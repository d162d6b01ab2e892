import Foundation

/// `GuardianshipStore` in memory, held to the same contract as the PostgreSQL one.
extension InMemoryConsentStore {
    var activeGuardianships: [Guardianship] { guardianshipRows.filter { !$0.removed }.map(\.guardianship) }

    func otherConfirmedGuardians(of subject: SubjectKey, besides guardian: SubjectKey) -> Int {
        activeGuardianships.filter { subject.matches($0.subjectKey) && !guardian.matches($0.guardianKey) && $0.isConfirmed }.count
    }

    public func addGuardianship(
        _ guardianship: Guardianship, quotas: GuardianQuotas, ledger: LedgerRecord
    ) async throws -> Result<Guardianship, GuardianshipRefusal> {
        let mine = activeGuardianships.filter { guardianship.guardianKey.matches($0.guardianKey) }
        if mine.contains(where: { guardianship.subjectKey.matches($0.subjectKey) }) { return .failure(.alreadyRegistered) }
        if mine.count >= quotas.familyMembersPerGuardian { return .failure(.guardianQuota) }
        if guardianship.isConfirmed,
            otherConfirmedGuardians(of: guardianship.subjectKey, besides: guardianship.guardianKey) >= quotas.guardiansPerSubject
        {
            return .failure(.subjectQuota)
        }
        var stored = guardianship
        stored.createdAt = clock()
        stored.confirmedAt = guardianship.isConfirmed ? stored.createdAt : nil
        guardianshipRows.append(StoredGuardianship(guardianship: stored))
        append(ledger)
        return .success(stored)
    }

    public func confirmGuardianship(
        _ guardianship: Guardianship, by confirmation: GuardianshipConfirmation, quotas: GuardianQuotas, ledger: LedgerRecord
    ) async throws -> Result<Guardianship, GuardianshipRefusal> {
        let index = guardianshipRows.firstIndex {
            !$0.removed && guardianship.guardianKey.matches($0.guardianship.guardianKey)
                && guardianship.subjectKey.matches($0.guardianship.subjectKey)
        }
        if let index, guardianshipRows[index].guardianship.isConfirmed { return .success(guardianshipRows[index].guardianship) }
        if otherConfirmedGuardians(of: guardianship.subjectKey, besides: guardianship.guardianKey) >= quotas.guardiansPerSubject {
            return .failure(.subjectQuota)
        }
        let now = clock()
        if let index {
            guardianshipRows[index].guardianship.confirmation = confirmation
            guardianshipRows[index].guardianship.confirmedAt = now
        } else {
            var stored = guardianship
            stored.createdAt = now
            stored.confirmation = confirmation
            stored.confirmedAt = now
            guardianshipRows.append(StoredGuardianship(guardianship: stored))
        }
        append(ledger)
        return .success(guardianshipRows[index ?? guardianshipRows.count - 1].guardianship)
    }

    public func guardianships(of guardian: SubjectKey) async throws -> [Guardianship] {
        activeGuardianships.filter { guardian.matches($0.guardianKey) }
    }

    public func guardianships(ofSubject subject: SubjectKey) async throws -> [Guardianship] {
        activeGuardianships.filter { subject.matches($0.subjectKey) }
    }

    public func guardianship(id: UUID) async throws -> Guardianship? {
        activeGuardianships.first { $0.id == id }
    }

    public func confirmedGuardianship(guardian: SubjectKey, subject: SubjectKey) async throws -> Guardianship? {
        activeGuardianships.first { guardian.matches($0.guardianKey) && subject.matches($0.subjectKey) && $0.isConfirmed }
    }

    public func markCodeSaved(guardianshipID: UUID) async throws {
        guard let index = guardianshipRows.firstIndex(where: { !$0.removed && $0.guardianship.id == guardianshipID }) else { return }
        guardianshipRows[index].guardianship.codeSaved = true
    }

    public func removeGuardianship(id: UUID, ledger: LedgerRecord, retired: LedgerRecord) async throws -> Guardianship? {
        guard let index = guardianshipRows.firstIndex(where: { !$0.removed && $0.guardianship.id == id }) else { return nil }
        guardianshipRows[index].removedAt = clock()
        let removed = guardianshipRows[index].guardianship
        var record = ledger
        record.subjectKey = removed.subjectKey
        record.subjectMasked = removed.subjectMaskedID
        append(record)
        if removed.codeSaved, let offlineCodes {
            var retirement = retired
            retirement.subjectKey = removed.subjectKey
            retirement.subjectMasked = removed.subjectMaskedID
            _ = try await offlineCodes.retire(subject: removed.subjectKey, ledger: retirement)
        }
        return removed
    }

    /// The offline-code twin whose generations a removal retires, as PostgreSQL does in one transaction.
    public func attach(offlineCodes: any OfflineCodeStore) {
        self.offlineCodes = offlineCodes
    }
}
