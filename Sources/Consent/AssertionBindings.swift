import Foundation
import Synchronization

/// Binds each real-name assertion to the first API client that sends it, so that one captured
/// from a helper app cannot be replayed through another client key for the rest of its life.
///
/// The binding is stored (`AssertionBindingStore`), so it holds across restarts and instances
/// that share the server secret; this instance remembers it until the assertion expires, so a
/// helper sending the same assertion on every call costs one statement per assertion, not one per call.
public final class AssertionBindings: Sendable {
    struct Binding: Sendable {
        var clientID: UUID
        var expiresAt: Int64
    }

    /// How often expired bindings are deleted from the store, at most.
    static let purgeInterval: Int64 = 600

    private let store: any AssertionBindingStore
    private let personalData: PersonalData
    private let known = Mutex<[[UInt8]: Binding]>([:])
    private let lastPurge = Mutex<Int64>(0)
    let capacity: Int

    public init(store: any AssertionBindingStore, personalData: PersonalData, capacity: Int = 10_000) {
        self.store = store
        self.personalData = personalData
        self.capacity = capacity
    }

    /// Passes if `assertion` (already verified, expiring at `expiresAt`) was first sent by
    /// `clientID`, binding it now if nobody sent it before; else `assertion-other-client`.
    public func check(_ assertion: String, clientID: UUID, expiresAt: Int64, now: Int64) async throws -> AssertionRejection? {
        let hashes = personalData.assertionHashes(assertion)
        let hash = hashes[0]
        if let bound = known.withLock({ $0[hash] }), bound.expiresAt > now {
            return bound.clientID == clientID ? nil : .otherClient
        }
        let owner = try await store.bindAssertion(
            hashes, version: personalData.currentVersion, to: clientID, until: Date(timeIntervalSince1970: TimeInterval(expiresAt)))
        remember(hash, Binding(clientID: owner, expiresAt: expiresAt), now: now)
        try await purgeIfDue(now: now)
        return owner == clientID ? nil : .otherClient
    }

    private func remember(_ hash: [UInt8], _ binding: Binding, now: Int64) {
        known.withLock { known in
            if known.count >= capacity {
                known = known.filter { $0.value.expiresAt > now }
                if known.count >= capacity { known.removeAll(keepingCapacity: true) }
            }
            known[hash] = binding
        }
    }

    private func purgeIfDue(now: Int64) async throws {
        let due = lastPurge.withLock { last in
            guard now - last >= Self.purgeInterval else { return false }
            last = now
            return true
        }
        if due { try await store.deleteAssertionBindings(expiredBefore: Date(timeIntervalSince1970: TimeInterval(now))) }
    }
}

/// Where assertion bindings are kept: `PostgresConsentStore` and its in-memory twin.
public protocol AssertionBindingStore: Sendable {
    /// Binds the assertion with the keyed hash `hashes[0]` (made under `version`) to `clientID`
    /// unless it is bound already under any of `hashes` (its hash under each version a lookup
    /// tries); returns the client it is bound to (the first one to ask, also under concurrency).
    func bindAssertion(_ hashes: [[UInt8]], version: Int16, to clientID: UUID, until expiresAt: Date) async throws -> UUID
    /// Deletes the bindings of assertions that expired before `cutoff`.
    func deleteAssertionBindings(expiredBefore cutoff: Date) async throws
}

extension AssertionBindingStore {
    /// Binds under the only version there is (tests and tools).
    public func bindAssertion(_ hash: [UInt8], to clientID: UUID, until expiresAt: Date) async throws -> UUID {
        try await bindAssertion([hash], version: 1, to: clientID, until: expiresAt)
    }
}

extension PersonalData {
    /// The keyed hash under which an assertion's binding is stored (the assertion names a person).
    /// It covers the signed part only, `header.payload`: base64url and ES256 both let one
    /// signature be written several ways that all verify, and each spelling must not bind anew.
    public func assertionHash(_ assertion: String) -> [UInt8] {
        assertionHashes(assertion)[0]
    }

    /// The assertion's keyed hash under the current version first, then the others a lookup tries.
    public func assertionHashes(_ assertion: String) -> [[UInt8]] {
        let signed = assertion.utf8.lastIndex(of: UInt8(ascii: ".")).map { assertion.utf8[..<$0] } ?? assertion.utf8[...]
        return keyedHashCandidates(domain: "assertion", Array(signed))
    }
}
