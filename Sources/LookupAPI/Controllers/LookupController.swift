import Consent
import Crypto
import Display
import Foundation
import Hummingbird

/// `POST /v1/lookups`: decodes the lookup, hands it to `LookupService`, and shows the code in the
/// rendering asked for.
struct LookupController {
    let service: LookupService
    let limits: JSONBody.Limits

    struct Body: Decodable {
        var idNumber: String
        var consentToken: String
        var format: RenderingFormat?
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post(use: lookup)
    }

    @Sendable func lookup(request: Request, context: PassbyRequestContext) async throws -> Response {
        let raw = try await JSONBody.collect(request, within: limits)
        let body = try JSONBody.decode(Body.self, from: raw)
        let format = Self.format(body.format, accept: request.headers[.accept])
        let issued = try await service.lookup(
            LookupService.Request(
                clientID: try context.client.id, assertion: request.assertion, idNumber: body.idNumber, consentToken: body.consentToken,
                idempotencyKey: try request.idempotencyKey(), bodyDigest: Array(SHA256.hash(data: Array(raw.readableBytesView)))))
        let claims = issued.claims
        let rendering = try Rendering(code: issued.code, format: format, correction: .m, label: "Health code, \(claims.status ?? "")")
        // Written directly (`JSONAnswer`): this is the hot path, and the SVG is most of the answer.
        var shown = JSONAnswer()
        shown.add("format", format.rawValue)
        shown.add("content_type", format.contentType)
        shown.add("qr_version", Int64(rendering.qrVersion))
        if format == .png { shown.add("data", Data(rendering.bytes).base64EncodedString()) } else { shown.add("data", utf8: rendering.bytes) }
        var answer = JSONAnswer(capacity: rendering.bytes.count + 640)
        answer.add("code", issued.code)
        answer.add("issued_at", time: claims.issuedAt)
        answer.add("expires_at", time: claims.expiresAt)
        answer.add("masked_name", claims.maskedName)
        answer.add("masked_id", claims.maskedID)
        answer.add("group", claims.ageGroup)
        answer.add("status", claims.status ?? "")
        answer.add("status_as_of", time: claims.statusTime ?? 0)
        answer.add("rendering", object: shown)
        return answer.response(status: .created)
    }

    /// The rendering: the body's `format`, else the first of SVG, PNG or text that `Accept` names, else SVG.
    static func format(_ field: RenderingFormat?, accept: String?) -> RenderingFormat {
        if let field { return field }
        for part in (accept ?? "").split(separator: ",") {
            let mediaType = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if let format = RenderingFormat(mediaType: mediaType) { return format }
        }
        return .svg
    }
}
