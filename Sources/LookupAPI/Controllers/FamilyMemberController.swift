import Consent
import Foundation
import Hummingbird

extension Guardianship {
    /// `status` (`pending` or `confirmed`) and `confirmed_by`, as every answer shows them.
    var statusFields: (String, String?) { (isConfirmed ? "confirmed" : "pending", confirmation?.rawValue) }
}

/// Family registrations. `/v1/family-members`: a guardian registers, lists and removes the people
/// they look after, and a confirmed guardian sees and removes the others. `/v1/guardianship-confirmations`:
/// a gateway confirms from household-registry data. `/v1/terminal/guardianships`: the person at a
/// terminal sees, confirms and removes the registrations naming them.
struct FamilyMemberController {
    let service: GuardianshipService
    let checkIn: TerminalCheckIn
    let refusals: RefusalRecorder
    let limits: JSONBody.Limits
    let clock: any PassbyClock

    struct NewFamilyMember: Decodable {
        var idNumber: String
        var name: String
        var relationship: String
    }

    struct Confirmation: Decodable {
        var guardianIdNumber: String
        var subjectIdNumber: String
        var relationship: String
    }

    /// A registration as its guardian sees it: whom it names and whether it is confirmed.
    struct FamilyMember: Encodable {
        var id: UUID
        var maskedID: String
        var maskedName: String
        var relationship: String
        var createdAt: Date
        /// `pending` until a gateway, the person at a terminal or the guardian's assertion confirms it.
        var status: String
        var confirmedBy: String?

        init(_ guardianship: Guardianship) {
            id = guardianship.id
            maskedID = guardianship.subjectMaskedID
            maskedName = guardianship.subjectMaskedName
            relationship = guardianship.relationship
            createdAt = guardianship.createdAt
            (status, confirmedBy) = guardianship.statusFields
        }
    }

    struct FamilyMembers: Encodable {
        var familyMembers: [FamilyMember]
    }

    /// A registration as the person it names, or another guardian, sees it: who the guardian is, masked.
    struct Guardian: Encodable {
        var id: UUID
        var guardianMaskedID: String
        var relationship: String
        var createdAt: Date
        var status: String
        var confirmedBy: String?

        init(_ guardianship: Guardianship) {
            id = guardianship.id
            guardianMaskedID = guardianship.guardianMaskedID
            relationship = guardianship.relationship
            createdAt = guardianship.createdAt
            (status, confirmedBy) = guardianship.statusFields
        }
    }

    struct Guardians: Encodable {
        var guardians: [Guardian]
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        let members = v1.group("family-members").add(middleware: RequireRole(.guardian))
        members.post(use: add)
        members.get(use: list)
        members.get(":id/guardians", use: guardians)
        members.delete(":id", use: remove)
        v1.group("guardianship-confirmations").add(middleware: RequireRole(.gateway)).post(use: confirm)
        let terminal = v1.group("terminal/guardianships").add(middleware: RequireRole(.terminal))
        terminal.post(use: terminalList)
        terminal.post(":id/confirmation", use: terminalConfirm)
        terminal.post(":id/removal", use: terminalRemove)
    }

    @Sendable func add(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(NewFamilyMember.self, from: request, within: limits)
        let stored = try await service.add(
            idNumber: body.idNumber, name: body.name, relationship: body.relationship, assertion: request.assertion,
            clientID: try context.client.id)
        return try context.respond(FamilyMember(stored), status: stored.isConfirmed ? .created : .accepted, from: request)
    }

    @Sendable func list(request: Request, context: PassbyRequestContext) async throws -> Response {
        let members = try await service.list(assertion: request.assertion, clientID: try context.client.id)
        return try context.respond(FamilyMembers(familyMembers: members.map(FamilyMember.init)), from: request)
    }

    @Sendable func guardians(request: Request, context: PassbyRequestContext) async throws -> Response {
        let found = try await service.guardians(
            ofRegistration: try request.uuid("id", context: context), assertion: request.assertion, clientID: try context.client.id)
        return try context.respond(Guardians(guardians: found.map(Guardian.init)), from: request)
    }

    @Sendable func remove(request: Request, context: PassbyRequestContext) async throws -> Response {
        try await service.remove(id: try request.uuid("id", context: context), assertion: request.assertion, clientID: try context.client.id)
        return Response(status: .noContent)
    }

    @Sendable func confirm(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Confirmation.self, from: request, within: limits)
        let confirmed = try await service.confirm(
            guardianIdNumber: body.guardianIdNumber, subjectIdNumber: body.subjectIdNumber, relationship: body.relationship,
            clientID: try context.client.id)
        return try context.respond(Guardian(confirmed), from: request)
    }

    @Sendable func terminalList(request: Request, context: PassbyRequestContext) async throws -> Response {
        let found = try await atTerminal(request, context: context) { subject, _ in try await service.registrations(of: subject) }
        return try context.respond(Guardians(guardians: found.map(Guardian.init)), from: request)
    }

    @Sendable func terminalConfirm(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        let confirmed = try await atTerminal(request, context: context) { subject, record in
            try await service.confirmAtTerminal(id: id, subject: subject, record: record)
        }
        return try context.respond(Guardian(confirmed), from: request)
    }

    @Sendable func terminalRemove(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        try await atTerminal(request, context: context) { subject, record in
            try await service.removeAtTerminal(id: id, subject: subject, record: record)
        }
        return Response(status: .noContent)
    }

    /// Establishes the person at the terminal, then runs `body`; refusals are recorded.
    private func atTerminal<T>(
        _ request: Request, context: PassbyRequestContext, _ body: (TerminalCheckIn.Subject, LedgerRecord) async throws -> T
    ) async throws -> T {
        try await checkIn.serving(
            request, context: context, limits: limits, refusals: refusals, refusal: .familyMemberRefused, at: clock.now(), body)
    }
}
