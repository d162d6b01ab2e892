import Consent
import Foundation
import Hummingbird

/// `/v1/family-members`: a guardian registers, lists and removes the people they look after.
struct FamilyMemberController {
    let service: GuardianshipService
    let limits: JSONBody.Limits

    struct NewFamilyMember: Decodable {
        var idNumber: String
        var name: String
        var relationship: String
    }

    struct FamilyMember: Encodable {
        var id: UUID
        var maskedID: String
        var maskedName: String
        var relationship: String
        var createdAt: Date

        init(_ guardianship: Guardianship) {
            id = guardianship.id
            maskedID = guardianship.subjectMaskedID
            maskedName = guardianship.subjectMaskedName
            relationship = guardianship.relationship
            createdAt = guardianship.createdAt
        }
    }

    struct FamilyMembers: Encodable {
        var familyMembers: [FamilyMember]
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post(use: add)
        group.get(use: list)
        group.delete(":id", use: remove)
    }

    @Sendable func add(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(NewFamilyMember.self, from: request, within: limits)
        let stored = try await service.add(
            idNumber: body.idNumber, name: body.name, relationship: body.relationship, assertion: request.assertion,
            clientID: try context.client.id)
        return try context.respond(FamilyMember(stored), status: .created, from: request)
    }

    @Sendable func list(request: Request, context: PassbyRequestContext) async throws -> Response {
        let members = try await service.list(assertion: request.assertion, clientID: try context.client.id)
        return try context.respond(FamilyMembers(familyMembers: members.map(FamilyMember.init)), from: request)
    }

    @Sendable func remove(request: Request, context: PassbyRequestContext) async throws -> Response {
        try await service.remove(id: try request.uuid("id", context: context), assertion: request.assertion, clientID: try context.client.id)
        return Response(status: .noContent)
    }
}
