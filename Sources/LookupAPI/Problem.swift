import Consent
import Foundation
import Hummingbird

/// An RFC 9457 problem: every failure a client sees. `reason` is stable and ends the `type` URI.
struct Problem: Error, HTTPResponseError, Encodable {
    var status: HTTPResponse.Status
    /// The stable reason, for example `not-eligible`.
    var reason: String
    var title: String
    var detail: String?
    /// Extra response headers such as `Retry-After`.
    var headers: HTTPFields = [:]
    /// Extra members, such as the field that was wrong. Never personal data.
    var extensions: [String: String] = [:]

    init(_ status: HTTPResponse.Status, _ reason: String, _ title: String, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.reason = reason
        self.title = title
        self.detail = detail
        self.headers = headers
    }

    var type: String { "/problems/\(reason)" }

    struct CodingKeys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .init(stringValue: "type"))
        try container.encode(title, forKey: .init(stringValue: "title"))
        try container.encode(Int(status.code), forKey: .init(stringValue: "status"))
        try container.encode(reason, forKey: .init(stringValue: "reason"))
        try container.encodeIfPresent(detail, forKey: .init(stringValue: "detail"))
        for (key, value) in extensions.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: .init(stringValue: key))
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(self)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The problems of the HTTP layer itself: credentials, roles, bodies, the database.
extension Problem {
    static func malformedRequest(_ detail: String) -> Problem {
        Problem(.badRequest, "malformed-request", "The request body is not valid for this route", detail: detail)
    }
    static let missingCredentials = Problem(
        .unauthorized, "missing-credentials", "An API client key is required",
        headers: [.wwwAuthenticate: "Bearer"])
    static let invalidCredentials = Problem(
        .unauthorized, "invalid-credentials", "The API client key is unknown or revoked",
        headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    static let wrongRole = Problem(.forbidden, "wrong-role", "This client's role may not use this route")
    static let bodyTooLarge = Problem(.contentTooLarge, "body-too-large", "The request body is larger than this route accepts")
    static let unsupportedMediaType = Problem(
        .unsupportedMediaType, "unsupported-media-type", "The request body must be JSON, sent as Content-Type: application/json")
    static let notFound = Problem(.notFound, "not-found", "No such resource")
    static let requestTimeout = Problem(.requestTimeout, "request-timeout", "The request body did not arrive in time")
    static let methodNotAllowed = Problem(.methodNotAllowed, "method-not-allowed", "This method is not allowed here")
    static let databaseUnavailable = Problem(
        .serviceUnavailable, "database-unavailable",
        "The database cannot be reached; nothing was done", headers: [.retryAfter: "1"])
    static let internalError = Problem(.internalServerError, "internal", "Something went wrong on our side; nothing was issued")
}

/// The one catalogue of refusals as problems: one entry per reason, with titles built from the
/// settings in force (the ages, the quotas, the limits), so that what a client reads is true.
struct ProblemCatalogue: Sendable {
    let configuration: PassbyConfiguration

    func problem(for refusal: Refusal) -> Problem {
        let settings = configuration
        let policy = settings.agePolicy
        switch refusal {
        case .malformedRequest(let detail):
            return .malformedRequest(detail)
        case .assertion:
            return Problem(
                .unauthorized, refusal.reason, "The real-name assertion was refused",
                detail: "Send the person's assertion, signed by a trusted identity provider, in Passby-Assertion")
        case .identityNumber(let rejection, let field):
            var problem = Problem(
                .unprocessableContent, refusal.reason, "The ID number is not valid",
                detail: "`\(field)` was refused: \(rejection.rawValue)")
            problem.extensions["field"] = field
            return problem
        case .notEligible:
            return Problem(
                .forbidden, refusal.reason,
                "Only people aged \(policy.elderAge) or over, or under \(policy.childAge), can be served")
        case .lookupRateLimited(let seconds):
            return Problem(.tooManyRequests, refusal.reason, "Too many lookups; try again later", headers: [.retryAfter: "\(seconds)"])
        case .consentAttemptsExceeded(let seconds):
            return Problem(
                .tooManyRequests, refusal.reason, "Too many consent tokens that did not fit; try again later",
                detail: "Ask the person or their guardian for a new consent token", headers: [.retryAfter: "\(seconds)"])
        case .attestationRateLimited(let seconds):
            return Problem(
                .tooManyRequests, refusal.reason,
                "At most \(settings.attestedPerHour) on-the-spot consents an hour", headers: [.retryAfter: "\(seconds)"])
        case .consent(let consent):
            return Problem(.forbidden, refusal.reason, Self.consentTitles[consent] ?? "The consent was refused")
        case .unknownSubject:
            return Problem(.notFound, refusal.reason, "No health status is known for this person")
        case .idempotencyKeyReused:
            return Problem(.unprocessableContent, refusal.reason, "This Idempotency-Key was used with another request")
        case .noSigningKey:
            return Problem(.serviceUnavailable, refusal.reason, "No signing key is active; run passby keys rotate")
        case .invalidMaxUses:
            return Problem(.unprocessableContent, refusal.reason, "max_uses must be 1 to \(settings.maxGrantUses)")
        case .invalidValidity:
            return Problem(
                .unprocessableContent, refusal.reason,
                "valid_seconds must be \(ConsentRules.minimumValidSeconds) to \(settings.maxGrantSeconds)")
        case .invalidStatement:
            return Problem(
                .unprocessableContent, refusal.reason,
                "The attestation statement must be 1 to \(ConsentRules.maximumStatementLength) characters")
        case .invalidRelationship:
            return Problem(
                .unprocessableContent, refusal.reason, "Unknown relationship",
                detail: "One of: \(GuardianshipRules.relationships.sorted().joined(separator: ", "))")
        case .invalidName:
            return Problem(.unprocessableContent, refusal.reason, "The name must be 1 to \(DevelopmentSignIn.maximumNameLength) characters")
        case .selfConsentElderlyOnly:
            return Problem(.forbidden, refusal.reason, "At a terminal only an elderly person can grant, for themselves")
        case .selfServiceElderlyOnly:
            return Problem(.forbidden, refusal.reason, "A child's offline code is applied for by a registered guardian")
        case .notAGuardian:
            return Problem(.forbidden, refusal.reason, "Register this person as a family member first")
        case .guardianConsentRequired:
            return Problem(.forbidden, refusal.reason, "A child can be looked up only with a guardian's consent")
        case .selfRegistration:
            return Problem(.unprocessableContent, refusal.reason, "A person cannot be their own family member")
        case .guardianship:
            let quotas = settings.quotas
            return Problem(
                .conflict, refusal.reason, "The family registration was refused",
                detail: "Quotas: \(quotas.familyMembersPerGuardian) family members per guardian, "
                    + "\(quotas.guardiansPerSubject) guardians per person")
        case .unsupportedFormat:
            return Problem(.notAcceptable, refusal.reason, "The card comes as svg, pdf or png (pdf and png need rsvg-convert)")
        case .notSealed:
            return Problem(.notFound, refusal.reason, "That entry is not in a signed head yet; the ledger is sealed every few seconds")
        case .unknownHead:
            return Problem(.notFound, refusal.reason, "No signed head has that size")
        case .invalidLogin:
            return Problem(.unauthorized, refusal.reason, "The username or password is wrong")
        case .loginLocked(let seconds):
            return Problem(.tooManyRequests, refusal.reason, "Too many failed logins; try again later", headers: [.retryAfter: "\(seconds)"])
        case .loginRateLimited(let seconds):
            return Problem(
                .tooManyRequests, refusal.reason, "Too many logins from this address; try again later", headers: [.retryAfter: "\(seconds)"])
        case .loginBusy:
            return Problem(.serviceUnavailable, refusal.reason, "Too many logins at once; try again in a moment", headers: [.retryAfter: "1"])
        case .batchTooLarge(let count):
            return Problem(
                .contentTooLarge, refusal.reason, "A batch holds at most \(settings.maxStatusBatch) items",
                detail: "This batch holds \(count)")
        case .notFound:
            return .notFound
        case .signIn(let failure):
            return Problem(failure.status, refusal.reason, failure.title)
        }
    }

    static let consentTitles: [ConsentRefusal: String] = [
        .invalid: "The consent token is not valid", .expired: "The consent has expired",
        .used: "The consent token has already been used", .withdrawn: "The consent was withdrawn",
    ]
}

extension SignInFailure {
    var status: HTTPResponse.Status {
        switch self {
        case .expired, .stateMismatch: .badRequest
        case .denied: .forbidden
        case .provider: .badGateway
        case .nonceMismatch: .unauthorized
        }
    }

    var title: String {
        switch self {
        case .expired: "No sign-in is under way in this browser, or it took longer than 10 minutes; sign in again"
        case .stateMismatch: "This answer belongs to another sign-in; sign in again"
        case .denied: "The identity provider did not sign you in"
        case .provider: "The identity provider could not complete the sign-in; try again"
        case .nonceMismatch: "The identity provider's token belongs to another sign-in"
        }
    }
}
