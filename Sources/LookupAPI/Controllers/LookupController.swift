import Consent
import Crypto
import Display
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Metrics

/// `POST /v1/lookups`: the passer-by lookup. Checks, in order: client (middleware), assertion,
/// ID number, eligibility, rate limits, consent; then takes one use of the grant and writes the
/// ledger record in one transaction, and only after it commits signs the display code.
struct LookupController {
    let dependencies: PassbyDependencies

    struct LookupRequest: Decodable {
        var idNumber: String
        var consentToken: String
        var format: RenderingFormat?
        enum CodingKeys: String, CodingKey { case idNumber = "id_number", consentToken = "consent_token", format }
    }

    struct RenderingBody: Encodable {
        var format: String
        var contentType: String
        var qrVersion: Int
        /// SVG and text as they are; PNG in base64.
        var data: String
        enum CodingKeys: String, CodingKey { case format, contentType = "content_type", qrVersion = "qr_version", data }
    }

    struct LookupAnswer: Encodable {
        var code: String
        var issuedAt: Date
        var expiresAt: Date
        var maskedName: String
        var maskedID: String
        var group: String
        var status: String
        var statusAsOf: Date
        var rendering: RenderingBody
        enum CodingKeys: String, CodingKey {
            case code, issuedAt = "issued_at", expiresAt = "expires_at", maskedName = "masked_name", maskedID = "masked_id"
            case group, status, statusAsOf = "status_as_of", rendering
        }
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post(use: lookup)
    }

    /// A refusal: recorded in the ledger, counted in metrics, then answered.
    func refuse(_ problem: Problem, _ record: LedgerRecord) async throws -> Never {
        var record = record
        record.kind = .lookupRefused
        record.result = problem.reason
        Counter(label: "passby_lookup_refusals", dimensions: [("reason", problem.reason)]).increment()
        try await dependencies.storage { [record] in try await dependencies.ledgerWriter.record(record) }
        throw problem
    }

    @Sendable func lookup(request: Request, context: PassbyRequestContext) async throws -> Response {
        let client = try context.requireIdentity()
        var ledger = LedgerRecord(kind: .lookupRefused, clientID: client.id)
        let raw = try await JSONBody.collect(request, within: dependencies.configuration)

        let person: VerifiedPerson
        do { person = try await dependencies.person(request) } catch let problem as Problem { try await refuse(problem, ledger) }
        let requesterKey = dependencies.personalData.subjectKey(person.id)
        ledger.requesterKey = requesterKey
        ledger.requesterMasked = person.id.masked

        let body: LookupRequest
        do { body = try JSONBody.decode(LookupRequest.self, from: raw) } catch let problem as Problem { try await refuse(problem, ledger) }
        let format = try Self.format(body.format, accept: request.headers[.accept])

        // Idempotent retry: the same key and body get the same code and use nothing.
        let idempotencyKey = request.headers[ConsentController.idempotencyHeader]
        let requestHash = Array(SHA256.hash(data: Array(raw.readableBytesView) + requesterKey.bytes))
        if let idempotencyKey, let stored = try await storedAnswer(client: client.id, key: idempotencyKey, hash: requestHash) {
            return try respond(stored, format: format, request: request, context: context, status: .created)
        }

        let subject: IdentityNumber
        do { subject = try dependencies.identityNumber(body.idNumber) } catch let problem as Problem { try await refuse(problem, ledger) }
        let subjectKey = dependencies.personalData.subjectKey(subject)
        ledger.subjectKey = subjectKey
        ledger.subjectMasked = subject.masked

        let group: AgeGroup
        do { group = try dependencies.eligibleGroup(of: subject) } catch let problem as Problem { try await refuse(problem, ledger) }

        let limits = dependencies.configuration
        for (key, limit) in [("requester:\(requesterKey)", limits.lookupsPerMinutePerRequester),
                             ("subject:\(subjectKey)", limits.lookupsPerMinutePerSubject),
                             ("client:\(client.id)", limits.lookupsPerMinutePerClient)] {
            if let retryAfter = dependencies.rateLimiter.hit(key, limit: limit) {
                try await refuse(Problem(.tooManyRequests, "rate-limited", "Too many lookups; try again later",
                                         headers: [.retryAfter: "\(retryAfter)"]), ledger)
            }
        }

        guard let token = ConsentToken(parsing: body.consentToken),
              let grant = try await dependencies.storage({ try await dependencies.consents.grant(tokenHash: dependencies.personalData.tokenHash(token)) })
        else { try await refuse(Self.problem(.invalid), ledger) }
        ledger.grantID = grant.id
        ledger.method = grant.method
        ledger.legalBasis = grant.legalBasis
        if let refusal = grant.refusal(subject: subjectKey, requester: requesterKey, at: Date()) {
            try await refuse(Self.problem(refusal), ledger)
        }
        let record: SubjectRecord
        do { record = try await dependencies.subjectRecord(subjectKey) } catch let problem as Problem { try await refuse(problem, ledger) }

        let now = Int64(Date().timeIntervalSince1970)
        let claims = CodeClaims(
            issuer: dependencies.configuration.issuer, issuedAt: now, expiresAt: now + dependencies.configuration.displayCodeLifetime,
            codeID: PassbyDependencies.newCodeID(), kind: .display, maskedName: record.maskedName, maskedID: record.maskedID,
            ageGroup: group.rawValue, status: record.status.rawValue, statusTime: Int64(record.asOf.timeIntervalSince1970))
        var issued = ledger
        issued.kind = .lookupIssued
        issued.result = "ok"
        issued.codeID = claims.codeID
        issued.codeExpiry = Date(timeIntervalSince1970: TimeInterval(claims.expiresAt))
        let answer = IdempotentAnswer(requestHash: requestHash, claims: claims.cbor.encoded())
        let idempotency = idempotencyKey.map { (clientID: client.id, key: $0, answer: answer) }
        let refusal: ConsentRefusal?
        do {
            refusal = try await dependencies.storage { [issued] in
                try await dependencies.consents.consume(
                    grantID: grant.id, subject: subjectKey, requester: requesterKey, at: Date(), ledger: issued, idempotency: idempotency)
            }
        } catch where idempotencyKey != nil && Self.isUniqueViolation(error) {
            // A concurrent retry with the same key committed first: answer as it did.
            if let stored = try await storedAnswer(client: client.id, key: idempotencyKey!, hash: requestHash) {
                return try respond(stored, format: format, request: request, context: context, status: .created)
            }
            throw error
        }
        if let refusal { try await refuse(Self.problem(refusal), ledger) }
        // The record has committed: only now is the code signed and shown.
        return try respond(claims, format: format, request: request, context: context, status: .created)
    }

    func storedAnswer(client: UUID, key: String, hash: [UInt8]) async throws -> CodeClaims? {
        let notBefore = Date().addingTimeInterval(-86_400)
        guard let stored = try await dependencies.storage({
            try await dependencies.consents.idempotentAnswer(clientID: client, key: key, notBefore: notBefore)
        }) else { return nil }
        guard stored.requestHash == hash else {
            throw Problem(.unprocessableContent, "idempotency-key-reused", "This Idempotency-Key was used with another request")
        }
        guard let item = try? CBORDecoder.decode(stored.claims), let claims = CodeClaims(cbor: item) else { return nil }
        return claims
    }

    func respond(_ claims: CodeClaims, format: RenderingFormat, request: Request, context: PassbyRequestContext,
                 status: HTTPResponse.Status) throws -> Response {
        let code = try dependencies.sign(claims)
        let rendering = try Rendering(code: code, format: format, correction: .m, label: "Health code, \(claims.status ?? "")")
        let data = format == .png ? Data(rendering.bytes).base64EncodedString() : String(decoding: rendering.bytes, as: UTF8.self)
        let answer = LookupAnswer(
            code: code, issuedAt: Date(timeIntervalSince1970: TimeInterval(claims.issuedAt)),
            expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.expiresAt)), maskedName: claims.maskedName,
            maskedID: claims.maskedID, group: claims.ageGroup, status: claims.status ?? "",
            statusAsOf: Date(timeIntervalSince1970: TimeInterval(claims.statusTime ?? 0)),
            rendering: RenderingBody(format: format.rawValue, contentType: format.contentType, qrVersion: rendering.qrVersion, data: data))
        var response = try context.responseEncoder.encode(answer, from: request, context: context)
        response.status = status
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The rendering: the body's `format`, else the first of SVG, PNG or text that `Accept` names, else SVG.
    static func format(_ field: RenderingFormat?, accept: String?) throws -> RenderingFormat {
        if let field { return field }
        for part in (accept ?? "").split(separator: ",") {
            let mediaType = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if let format = RenderingFormat(mediaType: mediaType) { return format }
        }
        return .svg
    }

    static func problem(_ refusal: ConsentRefusal) -> Problem {
        let titles: [ConsentRefusal: String] = [
            .invalid: "The consent token is not valid", .expired: "The consent has expired",
            .used: "The consent token has already been used", .withdrawn: "The consent was withdrawn",
            .wrongSubject: "The consent token belongs to another person", .wrongGrantee: "The consent was given to someone else",
        ]
        return Problem(.forbidden, refusal.rawValue, titles[refusal] ?? "The consent was refused")
    }

    static func isUniqueViolation(_ error: any Error) -> Bool {
        ProblemMiddleware<PassbyRequestContext>.sqlState(error) == "23505"
    }
}
