import Consent
import Foundation

/// The regional gateway's batch upsert of health statuses. Items are judged one by one, so one
/// bad item is rejected alone; the accepted ones are stored in one statement, all or none.
struct HealthStatusService: Sendable {
    /// One item as sent: every field read leniently, so that its own fault can be named.
    struct Item: Sendable {
        var isObject = true
        var idNumber: String?
        var name: String?
        var status: String?
        var asOf: String?
    }

    /// What happened to one item, in the batch's order.
    struct ItemResult: Sendable, Equatable, Encodable {
        var index: Int
        var result: String
        var reason: String?
        var maskedId: String?
    }

    /// How far in the future a status time may lie, for clock differences.
    static let clockTolerance: TimeInterval = 300
    static let maximumNameLength = 64

    let statuses: any HealthStatusRepository
    let personalData: PersonalData
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    func upsert(_ items: [Item]) async throws -> [ItemResult] {
        guard items.count <= configuration.maxStatusBatch else { throw Refusal.batchTooLarge(count: items.count) }
        let now = clock.now()
        var results = [ItemResult?](repeating: nil, count: items.count)
        var updates: [HealthStatusUpdate] = []
        var indices: [Int] = []
        for (index, item) in items.enumerated() {
            switch validate(item, now: now) {
            case .failure(let rejection): results[index] = ItemResult(index: index, result: "rejected", reason: rejection.reason)
            case .success(let update):
                updates.append(update)
                indices.append(index)
            }
        }
        for (position, outcome) in try await statuses.upsert(updates).enumerated() {
            let index = indices[position]
            results[index] = ItemResult(index: index, result: outcome.rawValue, maskedId: updates[position].maskedID)
        }
        return results.compactMap { $0 }
    }

    struct Rejected: Error { let reason: String }

    func validate(_ item: Item, now: Date) -> Result<HealthStatusUpdate, Rejected> {
        guard item.isObject else { return .failure(.init(reason: "not-an-object")) }
        guard let rawID = item.idNumber else { return .failure(.init(reason: "missing-id-number")) }
        let id: IdentityNumber
        do {
            id = try IdentityNumber(parsing: rawID, today: configuration.agePolicy.today(at: now))
        } catch {
            return .failure(.init(reason: error.rawValue))
        }
        guard let name = item.name.map(PersonalData.normalizeName), !name.isEmpty, name.count <= Self.maximumNameLength else {
            return .failure(.init(reason: "invalid-name"))
        }
        guard let status = item.status.flatMap(StatusColour.init(rawValue:)) else { return .failure(.init(reason: "invalid-status")) }
        guard let asOf = item.asOf.flatMap(RFC3339.date) else { return .failure(.init(reason: "invalid-as-of")) }
        guard asOf.timeIntervalSince(now) <= Self.clockTolerance else { return .failure(.init(reason: "future-as-of")) }
        return .success(HealthStatusUpdate(id: id, name: name, status: status, asOf: asOf, personalData: personalData))
    }
}

/// RFC 3339 times as clients send them, with or without fractional seconds.
enum RFC3339 {
    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
