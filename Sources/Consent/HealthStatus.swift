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
    /// The key as stored (what rows that refer to the subject must hold), which still looks up
    /// the person under the other versions the key it was found by tries.
    public var subjectKey: SubjectKey
    public var maskedID: String
    /// Under `secretVersion`.
    public var nameHash: [UInt8]
    public var maskedName: String
    public var status: StatusColour
    public var asOf: Date
    /// The server-secret version the stored key and name hash were made under.
    public var secretVersion: Int16 = 1
}

/// Where health statuses live.
public protocol HealthStatusRepository: Sendable {
    /// Stores each update unless a status at least as new is stored. Atomic: all or none.
    /// Returns one outcome per update, in order. A subject stored under the previous version of
    /// the server secret moves to the update's (its key, and the rows that refer to it).
    func upsert(_ updates: [HealthStatusUpdate]) async throws -> [UpsertOutcome]
    /// The subject stored under any of the hashes `key` looks up (`SubjectKey.lookupBytes`),
    /// preferring the newest version.
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

/// An in-memory repository for fast unit tests; the PostgreSQL one is the real store. It has no
/// foreign keys: a subject that moves to a newer server-secret version moves alone here, so
/// rotations are tested on PostgreSQL (`SecretRotationTests`).
public actor InMemoryHealthStatusRepository: HealthStatusRepository {
    private var records: [SubjectKey: SubjectRecord] = [:]

    public init() {}

    public func upsert(_ updates: [HealthStatusUpdate]) -> [UpsertOutcome] {
        let winners = updates.newestPerSubject()
        return updates.enumerated().map { index, update in
            guard winners.contains(index) else { return .ignoredOlder }
            // A subject stored under the previous version moves to the current one with a newer status.
            let storedKey = update.subjectKey.lookupBytes.map(SubjectKey.init(bytes:)).first { records[$0] != nil } ?? update.subjectKey
            if let stored = records[storedKey], stored.asOf >= update.asOf { return .ignoredOlder }
            records[storedKey] = nil
            records[update.subjectKey] = SubjectRecord(
                subjectKey: update.subjectKey, maskedID: update.maskedID, nameHash: update.nameHash, maskedName: update.maskedName,
                status: update.status, asOf: update.asOf, secretVersion: update.subjectKey.version)
            return .accepted
        }
    }

    public func record(for key: SubjectKey) -> SubjectRecord? {
        for bytes in key.lookupBytes {
            guard var record = records[SubjectKey(bytes: bytes)] else { continue }
            record.subjectKey = SubjectKey(bytes: bytes, version: record.secretVersion, lookupBytes: key.lookupBytes)
            return record
        }
        return nil
    }
}
