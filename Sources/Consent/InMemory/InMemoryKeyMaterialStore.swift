import Foundation
import Synchronization

/// `KeyMaterialStore` in memory, for tests.
public final class InMemoryKeyMaterialStore: KeyMaterialStore {
    private let stored = Mutex<[String: [UInt8]]>([:])
    private let records: Bool

    /// `holdsRecords`: whether the database it stands for already holds records.
    public init(holdsRecords: Bool = false) { records = holdsRecords }

    public func holdsRecords() async throws -> Bool { records }

    public func entries(prefix: String) async throws -> [String: [UInt8]] {
        stored.withLock { $0.filter { $0.key.hasPrefix(prefix) } }
    }

    public func insertIfAbsent(name: String, sealed: [UInt8]) async throws -> [UInt8] {
        stored.withLock { stored in
            if let existing = stored[name] { return existing }
            stored[name] = sealed
            return sealed
        }
    }

    public func put(name: String, sealed: [UInt8]) async throws {
        stored.withLock { $0[name] = sealed }
    }
}
