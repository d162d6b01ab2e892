import Crypto
import Synchronization

/// Verdicts of assertions that verified, kept until the assertion's own `exp`, so that a helper
/// app sending the same assertion on every lookup pays for one signature check, not one per call.
///
/// Keyed by the SHA-256 of the whole token: a cache hit is the same bytes that verified, so
/// nothing is trusted that was not checked. Refusals are not cached.
final class AssertionCache: Sendable {
    struct Entry: Sendable {
        var person: VerifiedPerson
        var issuedAt: Int64
        var expiresAt: Int64
    }

    private let entries = Mutex<[SHA256Digest: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    static func key(_ token: String) -> SHA256Digest { SHA256.hash(data: Array(token.utf8)) }

    /// The cached person, while the assertion is within its validity at `now` (Unix seconds);
    /// the same window the full check applies.
    func person(for key: SHA256Digest, now: Int64) -> VerifiedPerson? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expiresAt > now else {
                entries[key] = nil
                return nil
            }
            return entry.issuedAt <= now + AssertionVerifier.allowedClockSkew ? entry.person : nil
        }
    }

    func store(_ person: VerifiedPerson, for key: SHA256Digest, issuedAt: Int64, expiresAt: Int64, now: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity {
                // Expired entries go first; a cache still full of live ones starts over, which only costs re-verification.
                entries = entries.filter { $0.value.expiresAt > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(person: person, issuedAt: issuedAt, expiresAt: expiresAt)
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
