import Foundation

/// A health-code colour as the regional gateway reports it.
public enum StatusColour: String, Sendable, Codable, CaseIterable {
    case green, yellow, red
}

/// One subject's status as the gateway pushes it, already reduced to what may be stored.
public struct HealthStatusUpdate: Sendable, Equatable {
    public var subjectKey: SubjectKey
    public var maskedID: String
    public var nameHash: [UInt8]
    public var maskedName: String
    public var status: StatusColour
    public var asOf: Date

    public init(subjectKey: SubjectKey, maskedID: String, nameHash: [UInt8], maskedName: String, status: StatusColour, asOf: Date) {
        self.subjectKey = subjectKey
        self.maskedID = maskedID
        self.nameHash = nameHash
        self.maskedName = maskedName
        self.status = status
        self.asOf = asOf
    }

    /// Builds an update from a validated number and a declared name.
    public init(id: IdentityNumber, name: String, status: StatusColour, asOf: Date, personalData: PersonalData) {
        self.init(
            subjectKey: personalData.subjectKey(id), maskedID: id.masked, nameHash: personalData.nameHash(name),
            maskedName: PersonalData.maskName(name), status: status, asOf: asOf)
    }
}

/// What happened to one update of a batch.
public enum UpsertOutcome: String, Sendable, Codable {
    case accepted
    /// The stored status is as new as this one or newer; equal times count as not newer.
    case ignoredOlder = "ignored-older"
}

/// The stored status of a subject.
public struct SubjectRecord: Sendable, Equatable {
    public var subjectKey: SubjectKey
    public var maskedID: String
    public var nameHash: [UInt8]
    public var maskedName: String
    public var status: StatusColour
    public var asOf: Date
}

/// Where health statuses live.
public protocol HealthStatusRepository: Sendable {
    /// Stores each update unless a status at least as new is stored. Atomic: all or none.
    /// Returns one outcome per update, in order.
    func upsert(_ updates: [HealthStatusUpdate]) async throws -> [UpsertOutcome]
    func record(for key: SubjectKey) async throws -> SubjectRecord?
}

extension Array where Element == HealthStatusUpdate {
    /// The indices of the newest update for each subject; the others lose to a newer one in the same batch.
    public func newestPerSubject() -> Set<Int> {
        var newest: [SubjectKey: Int] = [:]
        for (index, update) in enumerated() {
            if let current = newest[update.subjectKey], self[current].asOf >= update.asOf { continue }
            newest[update.subjectKey] = index
        }
        return Set(newest.values)
    }
}

/// An in-memory repository for fast unit tests; the PostgreSQL one is the real store.
public actor InMemoryHealthStatusRepository: HealthStatusRepository {
    private var records: [SubjectKey: SubjectRecord] = [:]

    public init() {}

    public func upsert(_ updates: [HealthStatusUpdate]) -> [UpsertOutcome] {
        let winners = updates.newestPerSubject()
        return updates.enumerated().map { index, update in
            guard winners.contains(index) else { return .ignoredOlder }
            if let stored = records[update.subjectKey], stored.asOf >= update.asOf { return .ignoredOlder }
            records[update.subjectKey] = SubjectRecord(
                subjectKey: update.subjectKey, maskedID: update.maskedID, nameHash: update.nameHash,
                maskedName: update.maskedName, status: update.status, asOf: update.asOf)
            return .accepted
        }
    }

    public func record(for key: SubjectKey) -> SubjectRecord? { records[key] }
}
