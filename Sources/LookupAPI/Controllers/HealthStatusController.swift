import Consent
import Foundation
import Hummingbird

/// `PUT /v1/health-statuses`: the regional gateway's batch upsert of health statuses.
struct HealthStatusController {
    let dependencies: PassbyDependencies
    var configuration: PassbyConfiguration { dependencies.configuration }

    /// One item as sent. Every field is read leniently so that one bad item is rejected alone.
    struct Item: Decodable {
        var idNumber: String?
        var name: String?
        var status: String?
        var asOf: String?
        var isObject = true

        enum CodingKeys: String, CodingKey {
            case idNumber = "id_number", name, status, asOf = "as_of"
        }

        init(from decoder: any Decoder) throws {
            guard let container = try? decoder.container(keyedBy: CodingKeys.self) else {
                isObject = false
                return
            }
            idNumber = try? container.decodeIfPresent(String.self, forKey: .idNumber)
            name = try? container.decodeIfPresent(String.self, forKey: .name)
            status = try? container.decodeIfPresent(String.self, forKey: .status)
            asOf = try? container.decodeIfPresent(String.self, forKey: .asOf)
        }
    }

    struct ItemResult: Encodable, Equatable {
        var index: Int
        var result: String
        var reason: String?
        var maskedID: String?

        enum CodingKeys: String, CodingKey {
            case index, result, reason, maskedID = "masked_id"
        }
    }

    struct BatchResult: Encodable {
        var accepted: Int
        var ignored: Int
        var rejected: Int
        var results: [ItemResult]
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.put("health-statuses", use: upsert)
    }

    @Sendable func upsert(request: Request, context: PassbyRequestContext) async throws -> Response {
        let items = try await JSONBody.decode([Item].self, from: request, within: configuration)
        guard items.count <= configuration.maxStatusBatch else {
            throw Problem(.contentTooLarge, "batch-too-large",
                          "A batch holds at most \(configuration.maxStatusBatch) items", detail: "This batch holds \(items.count)")
        }
        var results = [ItemResult?](repeating: nil, count: items.count)
        var updates: [HealthStatusUpdate] = []
        var updateIndices: [Int] = []
        let today = configuration.agePolicy.today()
        for (index, item) in items.enumerated() {
            switch validate(item, today: today) {
            case .failure(let rejection):
                results[index] = ItemResult(index: index, result: "rejected", reason: rejection.reason)
            case .success(let update):
                updates.append(update)
                updateIndices.append(index)
            }
        }
        let outcomes = try await dependencies.storage { [updates] in try await dependencies.statuses.upsert(updates) }
        for (position, outcome) in outcomes.enumerated() {
            let index = updateIndices[position]
            results[index] = ItemResult(index: index, result: outcome.rawValue, maskedID: updates[position].maskedID)
        }
        let final = results.compactMap { $0 }
        let body = BatchResult(
            accepted: final.count { $0.result == UpsertOutcome.accepted.rawValue },
            ignored: final.count { $0.result == UpsertOutcome.ignoredOlder.rawValue },
            rejected: final.count { $0.result == "rejected" },
            results: final)
        return try context.responseEncoder.encode(body, from: request, context: context)
    }

    struct Rejected: Error { let reason: String }

    func validate(_ item: Item, today: CivilDate) -> Result<HealthStatusUpdate, Rejected> {
        guard item.isObject else { return .failure(.init(reason: "not-an-object")) }
        guard let rawID = item.idNumber else { return .failure(.init(reason: "missing-id-number")) }
        let id: IdentityNumber
        do {
            id = try IdentityNumber(parsing: rawID, today: today)
        } catch {
            return .failure(.init(reason: error.rawValue))
        }
        guard let name = item.name.map(PersonalData.normalizeName), !name.isEmpty, name.count <= 64 else {
            return .failure(.init(reason: "invalid-name"))
        }
        guard let status = item.status.flatMap(StatusColour.init(rawValue:)) else {
            return .failure(.init(reason: "invalid-status"))
        }
        guard let asOf = item.asOf.flatMap(Self.parseTimestamp) else {
            return .failure(.init(reason: "invalid-as-of"))
        }
        guard asOf.timeIntervalSinceNow <= configuration.statusClockTolerance else {
            return .failure(.init(reason: "future-as-of"))
        }
        return .success(HealthStatusUpdate(id: id, name: name, status: status, asOf: asOf, personalData: dependencies.personalData))
    }

    /// RFC 3339 with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
