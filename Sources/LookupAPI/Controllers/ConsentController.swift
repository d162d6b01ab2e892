import Consent
import Crypto
import Display
import Foundation
import Hummingbird

/// `/v1/consents`: grants made by guardians and at terminals, attested on the spot, withdrawn,
/// and their signed receipts. `ConsentService` holds the rules.
struct ConsentController {
    let service: ConsentService
    let limits: JSONBody.Limits

    struct NewGrant: Decodable {
        var idNumber: String
        var maxUses: Int?
        var validSeconds: Int?
        var granteeIdNumber: String?
    }

    struct NewAttestedGrant: Decodable {
        var idNumber: String
        var statement: String
    }

    struct GrantAnswer: Encodable {
        var id: UUID
        var token: String
        var tokenQrSvg: String
        var expiresAt: Date
        var maxUses: Int
        var method: String
        var legalBasis: String
        var maskedID: String

        init(_ issued: ConsentService.IssuedGrant) throws {
            id = issued.grant.id
            token = issued.token.grouped
            tokenQrSvg = try QRCode(encoding: issued.token.grouped, correction: .m).svg(label: "Consent token")
            expiresAt = issued.grant.validUntil
            maxUses = issued.grant.maxUses
            method = issued.grant.method.rawValue
            legalBasis = issued.grant.legalBasis.rawValue
            maskedID = issued.maskedID
        }
    }

    struct Receipt: Encodable {
        var receipt: String
        var grantID: String
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.group().add(middleware: RequireRole(.guardian, .terminal)).post(use: create)
        group.group("attested").add(middleware: RequireRole(.helper)).post(use: attested)
        let grantors = group.group(":id").add(middleware: RequireRole(.guardian, .terminal, .helper))
        grantors.delete(use: withdraw)
        grantors.get("receipt", use: receipt)
    }

    func caller(_ request: Request, _ context: PassbyRequestContext) throws -> ConsentService.Caller {
        let client = try context.client
        return ConsentService.Caller(clientID: client.id, role: client.role, assertion: request.assertion)
    }

    @Sendable func create(request: Request, context: PassbyRequestContext) async throws -> Response {
        let raw = try await JSONBody.collect(request, within: limits)
        let body = try JSONBody.decode(NewGrant.self, from: raw)
        let issued = try await service.create(
            ConsentService.NewGrant(
                idNumber: body.idNumber, maxUses: body.maxUses, validSeconds: body.validSeconds, granteeIdNumber: body.granteeIdNumber,
                idempotencyKey: try request.idempotencyKey(), bodyDigest: Array(SHA256.hash(data: Array(raw.readableBytesView)))),
            by: try caller(request, context))
        return try context.respond(try GrantAnswer(issued), status: issued.isNew ? .created : .ok, from: request)
    }

    @Sendable func attested(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(NewAttestedGrant.self, from: request, within: limits)
        let issued = try await service.attest(idNumber: body.idNumber, statement: body.statement, by: try caller(request, context))
        return try context.respond(try GrantAnswer(issued), status: .created, from: request)
    }

    @Sendable func withdraw(request: Request, context: PassbyRequestContext) async throws -> Response {
        try await service.withdraw(grantID: try request.uuid("id", context: context), by: try caller(request, context))
        return Response(status: .noContent)
    }

    @Sendable func receipt(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        let code = try await service.receipt(grantID: id, by: try caller(request, context))
        return try context.respond(Receipt(receipt: code, grantID: id.uuidString.lowercased()), from: request)
    }
}
