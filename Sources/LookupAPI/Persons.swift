import Consent
import Display
import Foundation
import HTTPTypes
import Hummingbird

/// What every person-facing route needs: who the person is, and what an ID number says.
extension PassbyDependencies {
    /// The header in which a person's real-name assertion travels.
    static let assertionHeader = HTTPField.Name("Passby-Assertion")!

    var today: CivilDate { configuration.agePolicy.today() }

    /// The person the request's assertion names; 401 with the reason otherwise.
    func person(_ request: Request) async throws -> VerifiedPerson {
        do {
            return try await assertions.verify(request.headers[Self.assertionHeader], now: Date(), today: today)
        } catch {
            throw Problem(.unauthorized, error.rawValue, "The real-name assertion was refused",
                          detail: "Send the person's assertion, signed by a trusted identity provider, in Passby-Assertion")
        }
    }

    /// A validated ID number; 422 with the rejection as reason otherwise.
    func identityNumber(_ text: String, field: String = "id_number") throws -> IdentityNumber {
        do {
            return try IdentityNumber(parsing: text, today: today)
        } catch {
            var problem = Problem(.unprocessableContent, error.rawValue, "The ID number is not valid",
                                  detail: "`\(field)` was refused: \(error.rawValue)")
            problem.extensions["field"] = field
            throw problem
        }
    }

    func ageGroup(of id: IdentityNumber) -> AgeGroup? {
        configuration.agePolicy.group(forAge: configuration.agePolicy.age(of: id.birthDate, on: today))
    }

    /// The subject's age group, or 403 `not-eligible`.
    func eligibleGroup(of id: IdentityNumber) throws -> AgeGroup {
        guard let group = ageGroup(of: id) else {
            throw Problem(.forbidden, "not-eligible", "Only people aged 60 or over, or under 6, can be served")
        }
        return group
    }

    /// The subject's stored record, or 404 `unknown-subject`.
    func subjectRecord(_ key: SubjectKey) async throws -> SubjectRecord {
        guard let record = try await storage({ try await statuses.record(for: key) }) else {
            throw Problem(.notFound, "unknown-subject", "No health status is known for this person")
        }
        return record
    }

    /// Signs claims with the active key.
    func sign(_ claims: CodeClaims) throws -> String {
        guard let key = keys.current.signing else {
            throw Problem(.serviceUnavailable, "no-signing-key", "No signing key is active; run passby keys rotate")
        }
        return try CodeFormat.encode(claims, with: key)
    }

    /// 16 random bytes naming a code.
    static func newCodeID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}

extension Request {
    /// The path parameter as a UUID, or 404: a malformed id names nothing.
    func uuid(_ parameter: String, context: PassbyRequestContext) throws -> UUID {
        guard let text = context.parameters.get(parameter), let id = UUID(uuidString: text) else { throw Problem.notFound }
        return id
    }
}
