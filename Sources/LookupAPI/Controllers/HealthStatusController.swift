import Foundation
import Hummingbird

/// `PUT /v1/health-statuses`: the regional gateway's batch upsert of health statuses.
struct HealthStatusController {
    let service: HealthStatusService
    let limits: JSONBody.Limits

    /// One item as sent. Every field is read leniently so that one bad item is rejected alone.
    struct Item: Decodable {
        var item: HealthStatusService.Item

        enum CodingKeys: String, CodingKey { case idNumber, name, status, asOf }

        init(from decoder: any Decoder) throws {
            guard let container = try? decoder.container(keyedBy: CodingKeys.self) else {
                item = .init(isObject: false)
                return
            }
            item = .init(
                idNumber: try? container.decodeIfPresent(String.self, forKey: .idNumber),
                name: try? container.decodeIfPresent(String.self, forKey: .name),
                status: try? container.decodeIfPresent(String.self, forKey: .status),
                asOf: try? container.decodeIfPresent(String.self, forKey: .asOf))
        }
    }

    struct BatchResult: Encodable {
        var accepted: Int
        var ignored: Int
        var rejected: Int
        var results: [HealthStatusService.ItemResult]
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.put("health-statuses", use: upsert)
    }

    @Sendable func upsert(request: Request, context: PassbyRequestContext) async throws -> Response {
        let items = try await JSONBody.decode([Item].self, from: request, within: limits)
        let results = try await service.upsert(items.map(\.item))
        return try context.respond(
            BatchResult(
                accepted: results.count { $0.result == "accepted" }, ignored: results.count { $0.result == "ignored-older" },
                rejected: results.count { $0.result == "rejected" }, results: results), from: request)
    }
}
