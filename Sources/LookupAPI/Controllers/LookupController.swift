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

    struct RenderingBody: Encodable {
        var format: String
        var contentType: String
        var qrVersion: Int
        /// SVG and text as they are; PNG in base64.
        var data: String
    }

    struct Answer: Encodable {
        var code: String
        var issuedAt: Date
        var expiresAt: Date
        var maskedName: String
        var maskedID: String
        var group: String
        var status: String
        var statusAsOf: Date
        var rendering: RenderingBody
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
        let data = format == .png ? Data(rendering.bytes).base64EncodedString() : String(decoding: rendering.bytes, as: UTF8.self)
        let answer = Answer(
            code: issued.code, issuedAt: Date(unixSeconds: claims.issuedAt), expiresAt: Date(unixSeconds: claims.expiresAt),
            maskedName: claims.maskedName, maskedID: claims.maskedID, group: claims.ageGroup, status: claims.status ?? "",
            statusAsOf: Date(unixSeconds: claims.statusTime ?? 0),
            rendering: RenderingBody(format: format.rawValue, contentType: format.contentType, qrVersion: rendering.qrVersion, data: data))
        return try context.respond(answer, status: .created, from: request)
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
