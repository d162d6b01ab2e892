import Consent
import Display
import Foundation
import Hummingbird

/// Offline codes: a terminal's confirmation view, "Apply" and "Replace", a guardian's "Save
/// offline code", and the printable card. `OfflineCodeService` holds the rules.
struct OfflineCodeController {
    let service: OfflineCodeService
    let limits: JSONBody.Limits
    /// The zone whose calendar dates the printed card.
    let timeZone: TimeZone

    struct GuardianBody: Decodable {
        var idNumber: String
    }

    struct Confirmation: Encodable {
        var maskedName: String
        var maskedID: String
        var group: String
        var hasCode: Bool
        var generation: Int64?
        var codeID: UUID?
    }

    struct CodeAnswer: Encodable {
        var id: UUID
        var code: String
        var generation: Int64
        var issuedAt: Date
        var expiresAt: Date
        var maskedName: String
        var maskedID: String
        var group: String
        var printURL: String
        var qrSVG: String
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        v1.group("terminal/identify").add(middleware: RequireRole(.terminal)).post(use: identify)
        v1.group("offline-codes").add(middleware: RequireRole(.terminal, .guardian)).post(use: apply)
        v1.group("offline-codes/replace").add(middleware: RequireRole(.terminal, .guardian)).post(use: replace)
        v1.group("offline-codes/:id/print").add(middleware: RequireRole(.terminal, .guardian)).get(use: print)
    }

    func terminalPerson(_ request: Request, context: PassbyRequestContext) async throws -> TerminalCheckIn.Person {
        try await TerminalBody.person(from: request, context: context, limits: limits)
    }

    @Sendable func identify(request: Request, context: PassbyRequestContext) async throws -> Response {
        let confirmation = try await service.identify(try await terminalPerson(request, context: context), clientID: try context.client.id)
        let subject = confirmation.subject
        return try context.respond(
            Confirmation(
                maskedName: subject.record.maskedName, maskedID: subject.record.maskedID, group: subject.group.rawValue,
                hasCode: confirmation.current != nil, generation: confirmation.current?.generation, codeID: confirmation.current?.id), from: request)
    }

    @Sendable func apply(request: Request, context: PassbyRequestContext) async throws -> Response {
        let client = try context.client
        let issued: OfflineCodeService.IssuedCode
        if client.role == .guardian {
            let body = try await JSONBody.decode(GuardianBody.self, from: request, within: limits)
            issued = try await service.forGuardian(idNumber: body.idNumber, mode: .currentOrNew, assertion: request.assertion, clientID: client.id)
        } else {
            issued = try await service.apply(try await terminalPerson(request, context: context), clientID: client.id)
        }
        return try answer(issued, request: request, context: context)
    }

    @Sendable func replace(request: Request, context: PassbyRequestContext) async throws -> Response {
        let client = try context.client
        let issued: OfflineCodeService.IssuedCode
        if client.role == .guardian {
            let body = try await JSONBody.decode(GuardianBody.self, from: request, within: limits)
            issued = try await service.forGuardian(idNumber: body.idNumber, mode: .replace, assertion: request.assertion, clientID: client.id)
        } else {
            issued = try await service.replace(try await terminalPerson(request, context: context), clientID: client.id)
        }
        return try answer(issued, request: request, context: context)
    }

    func answer(_ issued: OfflineCodeService.IssuedCode, request: Request, context: PassbyRequestContext) throws -> Response {
        let record = issued.record
        return try context.respond(
            CodeAnswer(
                id: record.id, code: issued.code, generation: record.generation, issuedAt: record.issuedAt, expiresAt: record.expiresAt,
                maskedName: issued.claims.maskedName, maskedID: issued.claims.maskedID, group: issued.claims.ageGroup,
                printURL: "/v1/offline-codes/\(record.id.uuidString.lowercased())/print",
                qrSVG: try QRCode(encoding: issued.code, correction: .q).svg(label: "Offline code")),
            status: issued.isNew ? .created : .ok, from: request)
    }

    /// The printable card: SVG, or PDF or PNG (`?format=` or `Accept`) when `rsvg-convert` is installed.
    @Sendable func print(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        let printer: OfflineCodeService.Printer =
            try context.client.role == .guardian ? .guardian(assertion: request.assertion, clientID: context.client.id) : .terminal
        let issued = try await service.printable(id: id, by: printer)
        let day = issued.record.issuedAt.formatted(Date.ISO8601FormatStyle(timeZone: timeZone).year().month().day())
        let svg = try OfflineCard.svg(code: issued.code, claims: issued.claims, issued: day)
        let wanted = request.uri.queryParameters.get("format").map { String($0) } ?? Self.format(accept: request.headers[.accept])
        let headers: HTTPFields = [.cacheControl: "no-store"]
        switch wanted {
        case "pdf", "png":
            let bytes = try await CardConverter.convert(svg: svg, to: wanted)
            var typed = headers
            typed[.contentType] = wanted == "pdf" ? "application/pdf" : "image/png"
            return Response(status: .ok, headers: typed, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case "svg":
            var typed = headers
            typed[.contentType] = "image/svg+xml"
            return Response(status: .ok, headers: typed, body: .init(byteBuffer: ByteBuffer(string: svg)))
        default:
            throw Refusal.unsupportedFormat
        }
    }

    static func format(accept: String?) -> String {
        guard let accept else { return "svg" }
        if accept.contains("application/pdf") { return "pdf" }
        if accept.contains("image/png") { return "png" }
        return "svg"
    }
}
