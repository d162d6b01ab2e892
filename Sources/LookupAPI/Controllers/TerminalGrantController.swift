import Consent
import Foundation
import Hummingbird

/// `/v1/terminal/grants`: the person at a terminal sees the grants made in their name and
/// withdraws any of them. Who they are is established as on every terminal route.
struct TerminalGrantController {
    let service: TerminalGrantService
    let checkIn: TerminalCheckIn
    let refusals: RefusalRecorder
    let limits: JSONBody.Limits
    let clock: any PassbyClock

    /// A grant as its subject sees it: who made it, how, for how long, and whether it still acts.
    struct SubjectGrant: Encodable {
        var id: UUID
        /// `self`, `guardian` or `attested`.
        var relation: String
        var guardianMaskedID: String?
        var method: String
        var legalBasis: String
        var validFrom: Date
        var validUntil: Date
        var uses: Int
        var maxUses: Int
        var status: String

        init(_ seen: TerminalGrantService.SubjectGrant) {
            id = seen.grant.id
            relation = seen.grant.relation.rawValue
            guardianMaskedID = seen.guardianMaskedID
            method = seen.grant.method.rawValue
            legalBasis = seen.grant.legalBasis.rawValue
            validFrom = seen.grant.validFrom
            validUntil = seen.grant.validUntil
            uses = seen.grant.uses
            maxUses = seen.grant.maxUses
            status = seen.status
        }
    }

    struct SubjectGrants: Encodable {
        var grants: [SubjectGrant]
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        let terminal = v1.group("terminal/grants").add(middleware: RequireRole(.terminal))
        terminal.post(use: list)
        terminal.post(":id/withdrawal", use: withdraw)
    }

    @Sendable func list(request: Request, context: PassbyRequestContext) async throws -> Response {
        let found = try await atTerminal(request, context: context) { subject, _ in try await service.grants(of: subject) }
        return try context.respond(SubjectGrants(grants: found.map(SubjectGrant.init)), from: request)
    }

    @Sendable func withdraw(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        try await atTerminal(request, context: context) { subject, record in
            try await service.withdraw(grantID: id, subject: subject, record: record)
        }
        return Response(status: .noContent)
    }

    private func atTerminal<T>(
        _ request: Request, context: PassbyRequestContext, _ body: (TerminalCheckIn.Subject, LedgerRecord) async throws -> T
    ) async throws -> T {
        try await checkIn.serving(request, context: context, limits: limits, refusals: refusals, refusal: .grantRefused, at: clock.now(), body)
    }
}
