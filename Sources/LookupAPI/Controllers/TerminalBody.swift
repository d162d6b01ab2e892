import Consent
import Foundation
import Hummingbird

/// Who stands at the terminal, as every terminal route's body says it: `method` is `id-card`
/// (with the card's number and name) or `app-code` (the person's own assertion in `Passby-Assertion`).
struct TerminalBody: Decodable {
    var method: String
    var idNumber: String?
    var name: String?

    static func person(from request: Request, context: PassbyRequestContext, limits: JSONBody.Limits) async throws -> TerminalCheckIn.Person {
        let body = try await JSONBody.decode(TerminalBody.self, from: request, within: limits)
        switch body.method {
        case "id-card":
            guard let number = body.idNumber, let name = body.name else {
                throw Problem.malformedRequest("`id_number` and `name` are required for method id-card")
            }
            return .idCard(idNumber: number, name: name)
        case "app-code":
            return .appCode(assertion: request.assertion, clientID: try context.client.id)
        default:
            throw Problem.malformedRequest("`method` must be id-card or app-code")
        }
    }
}

extension TerminalCheckIn {
    /// Establishes the person at the terminal from the request's body, then runs `body` for them;
    /// a refusal, once it is known whom it concerns, is recorded as `refusal`.
    func serving<T>(
        _ request: Request, context: PassbyRequestContext, limits: JSONBody.Limits, refusals: RefusalRecorder, refusal: LedgerRecord.Kind,
        at now: Date, _ body: (TerminalCheckIn.Subject, LedgerRecord) async throws -> T
    ) async throws -> T {
        let person = try await TerminalBody.person(from: request, context: context, limits: limits)
        return try await refusals.recording(refusal, clientID: try context.client.id) { record in
            let subject = try await self.subject(person, at: now, record: &record)
            return try await body(subject, record)
        }
    }
}
