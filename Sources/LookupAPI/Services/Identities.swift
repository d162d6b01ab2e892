import Consent
import Foundation

/// Who a request is about and who makes it: real-name assertions, ID numbers, age eligibility and
/// the subjects the gateway has told Passby about. Every service establishes people through it.
struct Identities: Sendable {
    let personalData: PersonalData
    let agePolicy: AgePolicy
    let assertions: AssertionVerifier
    let bindings: AssertionBindings
    let statuses: any HealthStatusRepository

    func today(at now: Date) -> CivilDate { agePolicy.today(at: now) }

    /// The person an assertion names, or `Refusal.assertion`: it must verify, and it must come
    /// through the client it was first sent through (`assertion-other-client`).
    func person(assertion: String?, client: UUID, at now: Date) async throws -> VerifiedPerson {
        let person = try await verifiedPerson(assertion: assertion, at: now)
        try await checkBinding(assertion, of: person, client: client, at: now)
        return person
    }

    /// As `person(assertion:client:at:)`, and notes the requester in `record` as soon as the
    /// assertion verifies: a refusal from then on (`assertion-other-client` included) is recorded.
    func person(assertion: String?, client: UUID, at now: Date, noting record: inout LedgerRecord) async throws -> VerifiedPerson {
        let person = try await verifiedPerson(assertion: assertion, at: now)
        record.requesterKey = key(person.id)
        record.requesterMasked = person.id.masked
        try await checkBinding(assertion, of: person, client: client, at: now)
        return person
    }

    /// The person an assertion names, if it verifies; where it came through is not checked (the
    /// helper page's sign-in uses this: the page's client binds the token at its first use).
    func verifiedPerson(assertion: String?, at now: Date) async throws(Refusal) -> VerifiedPerson {
        do {
            return try await assertions.verify(assertion, now: now, today: today(at: now))
        } catch {
            throw .assertion(error)
        }
    }

    /// Refuses a verified assertion that was first sent through another client (`assertion-other-client`).
    private func checkBinding(_ assertion: String?, of person: VerifiedPerson, client: UUID, at now: Date) async throws {
        guard let assertion,
            let refusal = try await bindings.check(assertion, clientID: client, expiresAt: person.expiresAt, now: now.unixSeconds)
        else { return }
        throw Refusal.assertion(refusal)
    }

    /// A validated ID number, or `Refusal.identityNumber` naming the field it came in.
    func identityNumber(_ text: String, field: String = "id_number", at now: Date) throws(Refusal) -> IdentityNumber {
        do {
            return try IdentityNumber(parsing: text, today: today(at: now))
        } catch {
            throw .identityNumber(error, field: field)
        }
    }

    /// `elder`, `child`, or nil for someone not eligible.
    func group(of id: IdentityNumber, at now: Date) -> AgeGroup? {
        let today = today(at: now)
        return agePolicy.group(forAge: agePolicy.age(of: id.birthDate, on: today))
    }

    /// The subject's age group, or `Refusal.notEligible`.
    func eligibleGroup(of id: IdentityNumber, at now: Date) throws(Refusal) -> AgeGroup {
        guard let group = group(of: id, at: now) else { throw .notEligible }
        return group
    }

    /// The person's key under the current server-secret version, which also finds their rows
    /// under the previous one.
    func key(_ id: IdentityNumber) -> SubjectKey { personalData.subjectKey(id) }

    /// The person's key as a ledger filter tries it: under every version (entries are never moved).
    func keyUnderEveryVersion(_ id: IdentityNumber) -> SubjectKey { personalData.subjectKeyUnderEveryVersion(id) }

    /// The subject's stored record, or `Refusal.unknownSubject`. Its `subjectKey` is the key as
    /// stored, which rows that refer to the subject (grants, offline codes) must hold.
    func subject(_ key: SubjectKey) async throws -> SubjectRecord {
        guard let record = try await statuses.record(for: key) else { throw Refusal.unknownSubject }
        return record
    }
}
