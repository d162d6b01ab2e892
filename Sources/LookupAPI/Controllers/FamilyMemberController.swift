import Consent
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/family-members`: a guardian registers, lists and removes the people they look after.
struct FamilyMemberController {
    let dependencies: PassbyDependencies
    static let relationships: Set<String> = ["spouse", "parent", "child", "grandparent", "grandchild", "sibling", "relative", "carer", "other"]

    struct NewFamilyMember: Decodable {
        var idNumber: String
        var name: String
        var relationship: String
        enum CodingKeys: String, CodingKey { case idNumber = "id_number", name, relationship }
    }

    struct FamilyMember: Encodable {
        var id: UUID
        var maskedID: String
        var maskedName: String
        var relationship: String
        var createdAt: Date
        enum CodingKeys: String, CodingKey {
            case id, maskedID = "masked_id", maskedName = "masked_name", relationship, createdAt = "created_at"
        }
        init(_ guardianship: Guardianship) {
            id = guardianship.id
            maskedID = guardianship.subjectMaskedID
            maskedName = guardianship.subjectMaskedName
            relationship = guardianship.relationship
            createdAt = guardianship.createdAt
        }
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post(use: add)
        group.get(use: list)
        group.delete(":id", use: remove)
    }

    @Sendable func add(request: Request, context: PassbyRequestContext) async throws -> Response {
        let guardian = try await dependencies.person(request)
        let body = try await JSONBody.decode(NewFamilyMember.self, from: request, within: dependencies.configuration)
        let subject = try dependencies.identityNumber(body.idNumber)
        guard Self.relationships.contains(body.relationship) else {
            throw Problem(.unprocessableContent, "invalid-relationship", "Unknown relationship",
                          detail: "One of: \(Self.relationships.sorted().joined(separator: ", "))")
        }
        guard subject != guardian.id else {
            throw Problem(.unprocessableContent, "self-registration", "A person cannot be their own family member")
        }
        _ = try dependencies.eligibleGroup(of: subject)
        let subjectKey = dependencies.personalData.subjectKey(subject)
        let record = try await dependencies.subjectRecord(subjectKey)
        guard record.nameHash == dependencies.personalData.nameHash(body.name) else {
            throw Problem(.unprocessableContent, "name-mismatch", "The name does not match the one on record for this ID number")
        }
        let guardianKey = dependencies.personalData.subjectKey(guardian.id)
        let guardianship = Guardianship(
            id: UUID(), guardianKey: guardianKey, guardianMaskedID: guardian.id.masked, subjectKey: subjectKey,
            subjectMaskedID: record.maskedID, subjectMaskedName: record.maskedName, relationship: body.relationship, createdAt: Date())
        let ledger = LedgerRecord(
            kind: .familyMemberAdded, clientID: context.identity?.id, requesterKey: guardianKey, requesterMasked: guardian.id.masked,
            subjectKey: subjectKey, subjectMasked: record.maskedID)
        let quotas = dependencies.configuration.quotas
        let outcome = try await dependencies.storage {
            try await dependencies.consents.addGuardianship(guardianship, quotas: quotas, ledger: ledger)
        }
        switch outcome {
        case .failure(let refusal):
            throw Problem(.conflict, refusal.rawValue, "The family registration was refused",
                          detail: "Quotas: \(quotas.familyMembersPerGuardian) family members per guardian, \(quotas.guardiansPerSubject) guardians per person")
        case .success(let stored):
            var response = try context.responseEncoder.encode(FamilyMember(stored), from: request, context: context)
            response.status = .created
            return response
        }
    }

    @Sendable func list(request: Request, context: PassbyRequestContext) async throws -> Response {
        let guardian = try await dependencies.person(request)
        let key = dependencies.personalData.subjectKey(guardian.id)
        let members = try await dependencies.storage { try await dependencies.consents.guardianships(of: key) }
        return try context.responseEncoder.encode(["family_members": members.map(FamilyMember.init)], from: request, context: context)
    }

    @Sendable func remove(request: Request, context: PassbyRequestContext) async throws -> Response {
        let guardian = try await dependencies.person(request)
        let id = try request.uuid("id", context: context)
        let key = dependencies.personalData.subjectKey(guardian.id)
        let ledger = LedgerRecord(
            kind: .familyMemberRemoved, clientID: context.identity?.id, requesterKey: key, requesterMasked: guardian.id.masked)
        guard try await dependencies.storage({ try await dependencies.consents.removeGuardianship(id: id, guardian: key, ledger: ledger) }) else {
            throw Problem.notFound
        }
        return Response(status: .noContent)
    }
}
