import Consent
import Display
import Foundation
import HTTPTypes
import Hummingbird

/// Offline codes: a guardian's "Save offline code", a terminal's "Apply" and "Replace", the
/// terminal's confirmation view, and the printable card.
struct OfflineCodeController {
    let dependencies: PassbyDependencies

    /// Who stands at the terminal: read from an ID card (number and name), or shown by their own
    /// app as a real-name assertion (`Passby-Assertion`).
    struct TerminalRequest: Decodable {
        var method: String
        var idNumber: String?
        var name: String?
        enum CodingKeys: String, CodingKey { case method, idNumber = "id_number", name }
    }

    struct GuardianRequest: Decodable {
        var idNumber: String
        enum CodingKeys: String, CodingKey { case idNumber = "id_number" }
    }

    struct ConfirmationView: Encodable {
        var maskedName: String
        var maskedID: String
        var group: String
        var hasCode: Bool
        var generation: Int64?
        var codeID: UUID?
        enum CodingKeys: String, CodingKey {
            case maskedName = "masked_name", maskedID = "masked_id", group, hasCode = "has_code", generation, codeID = "code_id"
        }
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
        enum CodingKeys: String, CodingKey {
            case id, code, generation, issuedAt = "issued_at", expiresAt = "expires_at", maskedName = "masked_name"
            case maskedID = "masked_id", group, printURL = "print_url", qrSVG = "qr_svg"
        }
    }

    /// The subject a request is about, established and checked.
    struct Subject {
        var id: IdentityNumber
        var key: SubjectKey
        var group: AgeGroup
        var record: SubjectRecord
        var actor: VerifiedPerson?
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        v1.group("terminal/identify").add(middleware: RequireRole(.terminal)).post(use: identify)
        v1.group("offline-codes").add(middleware: RequireRole(.terminal, .guardian)).post(use: apply)
        v1.group("offline-codes/replace").add(middleware: RequireRole(.terminal)).post(use: replace)
        v1.group("offline-codes/:id/print").add(middleware: RequireRole(.terminal, .guardian)).get(use: print)
    }

    /// The person at a terminal: elderly people act for themselves; children need a guardian.
    func terminalSubject(_ request: Request) async throws -> Subject {
        let raw = try await JSONBody.collect(request, within: dependencies.configuration)
        let body = try JSONBody.decode(TerminalRequest.self, from: raw)
        let id: IdentityNumber
        var actor: VerifiedPerson?
        var cardName: String?
        switch body.method {
        case "id-card":
            guard let number = body.idNumber, let name = body.name else {
                throw Problem.malformedRequest("`id_number` and `name` are required for method id-card")
            }
            id = try dependencies.identityNumber(number)
            cardName = name
        case "app-code":
            let person = try await dependencies.person(request)
            id = person.id
            actor = person
        default:
            throw Problem.malformedRequest("`method` must be id-card or app-code")
        }
        guard let group = dependencies.ageGroup(of: id) else {
            throw Problem(.forbidden, "not-eligible", "Only people aged 60 or over, or under 6, can be served")
        }
        guard group == .elder else {
            throw Problem(.forbidden, "self-service-elderly-only", "A child's offline code is applied for by a registered guardian")
        }
        let key = dependencies.personalData.subjectKey(id)
        let record = try await dependencies.subjectRecord(key)
        if let cardName, record.nameHash != dependencies.personalData.nameHash(cardName) {
            throw Problem(.forbidden, "name-mismatch", "The name does not match the one on record for this ID number")
        }
        return Subject(id: id, key: key, group: group, record: record, actor: actor)
    }

    @Sendable func identify(request: Request, context: PassbyRequestContext) async throws -> Response {
        let subject = try await terminalSubject(request)
        let current = try await dependencies.storage { try await dependencies.offlineCodes.currentCode(subject: subject.key) }
        let live = current.flatMap { $0.expiresAt > Date() ? $0 : nil }
        let view = ConfirmationView(
            maskedName: subject.record.maskedName, maskedID: subject.record.maskedID, group: subject.group.rawValue,
            hasCode: live != nil, generation: live?.generation, codeID: live?.id)
        return try context.responseEncoder.encode(view, from: request, context: context)
    }

    @Sendable func apply(request: Request, context: PassbyRequestContext) async throws -> Response {
        let subject: Subject
        if context.identity?.role == .guardian {
            subject = try await guardianSubject(request)
        } else {
            subject = try await terminalSubject(request)
        }
        return try await issue(subject, mode: .currentOrNew, request: request, context: context)
    }

    @Sendable func replace(request: Request, context: PassbyRequestContext) async throws -> Response {
        try await issue(try await terminalSubject(request), mode: .replace, request: request, context: context)
    }

    /// A guardian's "Save offline code" for a registered family member.
    func guardianSubject(_ request: Request) async throws -> Subject {
        let guardian = try await dependencies.person(request)
        let body = try await JSONBody.decode(GuardianRequest.self, from: request, within: dependencies.configuration)
        let id = try dependencies.identityNumber(body.idNumber)
        let group = try dependencies.eligibleGroup(of: id)
        let key = dependencies.personalData.subjectKey(id)
        let guardianKey = dependencies.personalData.subjectKey(guardian.id)
        guard try await dependencies.storage({ try await dependencies.consents.activeGuardianship(guardian: guardianKey, subject: key) }) != nil else {
            throw Problem(.forbidden, "not-a-guardian", "Register this person as a family member first")
        }
        return Subject(id: id, key: key, group: group, record: try await dependencies.subjectRecord(key), actor: guardian)
    }

    func issue(_ subject: Subject, mode: OfflineIssue, request: Request, context: PassbyRequestContext) async throws -> Response {
        let configuration = dependencies.configuration
        let reference = dependencies.personalData.subjectReference(subject.key)
        let ledger = LedgerRecord(
            kind: mode == .replace ? .offlineCodeReplaced : .offlineCodeIssued, clientID: context.identity?.id,
            requesterKey: subject.actor.map { dependencies.personalData.subjectKey($0.id) }, requesterMasked: subject.actor?.id.masked,
            subjectKey: subject.key, subjectMasked: subject.record.maskedID)
        let record = subject.record
        let group = subject.group
        let outcome = try await dependencies.storage {
            try await dependencies.offlineCodes.issue(
                subject: subject.key, subjectReference: reference, mode: mode, at: Date(), ledger: ledger
            ) { generation, _ in
                let now = Int64(Date().timeIntervalSince1970)
                let claims = CodeClaims(
                    issuer: configuration.issuer, issuedAt: now, expiresAt: now + configuration.offlineCodeLifetime,
                    codeID: PassbyDependencies.newCodeID(), kind: .offline, maskedName: record.maskedName, maskedID: record.maskedID,
                    ageGroup: group.rawValue, generation: generation, subjectReference: reference)
                return (claims.cbor.encoded(), Date(timeIntervalSince1970: TimeInterval(now)),
                        Date(timeIntervalSince1970: TimeInterval(claims.expiresAt)))
            }
        }
        let (code, claims) = try signed(outcome.code)
        let answer = CodeAnswer(
            id: outcome.code.id, code: code, generation: outcome.code.generation, issuedAt: outcome.code.issuedAt,
            expiresAt: outcome.code.expiresAt, maskedName: claims.maskedName, maskedID: claims.maskedID, group: claims.ageGroup,
            printURL: "/v1/offline-codes/\(outcome.code.id.uuidString.lowercased())/print",
            qrSVG: try QRCode(encoding: code, correction: .q).svg(label: "Offline code"))
        var response = try context.responseEncoder.encode(answer, from: request, context: context)
        response.status = outcome.isNew ? .created : .ok
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Signs a stored code's claims again: with EdDSA the same code comes back.
    func signed(_ stored: OfflineCodeRecord) throws -> (String, CodeClaims) {
        guard let item = try? CBORDecoder.decode(stored.claims), let claims = CodeClaims(cbor: item) else { throw Problem.internalError }
        return (try dependencies.sign(claims), claims)
    }

    /// The printable card: SVG, or PDF or PNG (`?format=` or `Accept`) when `rsvg-convert` is installed.
    @Sendable func print(request: Request, context: PassbyRequestContext) async throws -> Response {
        let id = try request.uuid("id", context: context)
        guard let stored = try await dependencies.storage({ try await dependencies.offlineCodes.code(id: id) }) else { throw Problem.notFound }
        // A guardian prints only the cards of the people they look after (their assertion says
        // who they are); anyone else's card is "not found", so ids reveal nothing.
        if context.identity?.role == .guardian {
            let guardianKey = dependencies.personalData.subjectKey(try await dependencies.person(request).id)
            guard try await dependencies.storage({
                try await dependencies.consents.activeGuardianship(guardian: guardianKey, subject: stored.subjectKey)
            }) != nil else { throw Problem.notFound }
        }
        let (code, claims) = try signed(stored)
        let issued = stored.issuedAt.formatted(Date.ISO8601FormatStyle(timeZone: dependencies.configuration.agePolicy.timeZone).year().month().day())
        let svg = try OfflineCard.svg(code: code, claims: claims, issued: issued)
        let wanted = request.uri.queryParameters.get("format") ?? Self.format(accept: request.headers[.accept])
        switch wanted {
        case "pdf", "png":
            let bytes = try await CardConverter.convert(svg: svg, to: wanted)
            return Response(status: .ok, headers: [.contentType: wanted == "pdf" ? "application/pdf" : "image/png", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case "svg":
            return Response(status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: svg)))
        default:
            throw Problem(.notAcceptable, "unsupported-format", "The card comes as svg, pdf or png")
        }
    }

    static func format(accept: String?) -> String {
        guard let accept else { return "svg" }
        if accept.contains("application/pdf") { return "pdf" }
        if accept.contains("image/png") { return "png" }
        return "svg"
    }
}
