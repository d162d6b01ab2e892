import Consent

/// Why a service refused a request, in the terms of the domain. Services throw these and know
/// nothing of HTTP; `ProblemCatalogue` turns each into its `application/problem+json` answer.
/// `reason` is the stable text that the problem, the ledger record and the metric all carry.
enum Refusal: Error, Sendable, Equatable {
    case malformedRequest(String)
    case assertion(AssertionRejection)
    /// An ID number was refused; `field` names the body field or query parameter it came in.
    case identityNumber(IdentityNumber.Rejection, field: String)
    case notEligible
    case lookupRateLimited(retryAfter: Int)
    case attestationRateLimited(retryAfter: Int)
    /// The requester made too many failed consent tries this hour.
    case consentAttemptsExceeded(retryAfter: Int)
    case consent(ConsentRefusal)
    case unknownSubject
    case idempotencyKeyReused
    case noSigningKey
    case invalidMaxUses
    case invalidValidity
    case invalidStatement
    case invalidRelationship
    case invalidName
    case selfConsentElderlyOnly
    case selfServiceElderlyOnly
    case notAGuardian
    case guardianConsentRequired
    case selfRegistration
    case guardianship(GuardianshipRefusal)
    case unsupportedFormat
    case notSealed
    case unknownHead
    case invalidLogin
    case loginLocked(retryAfter: Int)
    /// Too many login attempts from one address.
    case loginRateLimited(retryAfter: Int)
    /// Too many bcrypt checks waiting.
    case loginBusy
    case batchTooLarge(count: Int)
    /// No such resource, or someone else's: ids reveal nothing.
    case notFound
    /// The helper page's sign-in through an OpenID provider did not complete.
    case signIn(SignInFailure)

    var reason: String {
        switch self {
        case .malformedRequest: "malformed-request"
        case .assertion(let rejection): rejection.rawValue
        case .identityNumber(let rejection, _): rejection.rawValue
        case .notEligible: "not-eligible"
        case .lookupRateLimited, .attestationRateLimited: "rate-limited"
        case .consentAttemptsExceeded: "consent-attempts-exceeded"
        case .consent(let refusal): refusal.rawValue
        case .unknownSubject: "unknown-subject"
        case .idempotencyKeyReused: "idempotency-key-reused"
        case .noSigningKey: "no-signing-key"
        case .invalidMaxUses: "invalid-max-uses"
        case .invalidValidity: "invalid-validity"
        case .invalidStatement: "invalid-statement"
        case .invalidRelationship: "invalid-relationship"
        case .invalidName: "invalid-name"
        case .selfConsentElderlyOnly: "self-consent-elderly-only"
        case .selfServiceElderlyOnly: "self-service-elderly-only"
        case .notAGuardian: "not-a-guardian"
        case .guardianConsentRequired: "guardian-consent-required"
        case .selfRegistration: "self-registration"
        case .guardianship(let refusal): refusal.rawValue
        case .unsupportedFormat: "unsupported-format"
        case .notSealed: "not-sealed"
        case .unknownHead: "unknown-head"
        case .invalidLogin: "invalid-login"
        case .loginLocked: "login-locked"
        case .loginRateLimited: "rate-limited"
        case .loginBusy: "login-busy"
        case .batchTooLarge: "batch-too-large"
        case .notFound: "not-found"
        case .signIn(let failure): failure.rawValue
        }
    }
}
