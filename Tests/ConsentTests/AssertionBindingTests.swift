import Consent
import Foundation
import Testing

/// An assertion is bound to the first API client that sends it (issue 13, finding 6).
@Suite("Assertion bindings", .timeLimit(.minutes(5)))
struct AssertionBindingTests {
    static let now: Int64 = 1_795_000_000
    static let expiry = Date(timeIntervalSince1970: TimeInterval(now + 600))

    @Test("the first client binds; ten clients at once all see the same owner; expired bindings are deleted", arguments: StoreKind.allCases)
    func storeContract(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let first = UUID()
            let hash = Array(repeating: UInt8(3), count: 32)
            #expect(try await stores.consents.bindAssertion(hash, to: first, until: Self.expiry) == first)
            #expect(try await stores.consents.bindAssertion(hash, to: UUID(), until: Self.expiry) == first)

            let contested = Array(repeating: UInt8(4), count: 32)
            let clients = (0..<10).map { _ in UUID() }
            let owners = try await withThrowingTaskGroup(of: UUID.self) { group in
                for client in clients { group.addTask { try await stores.consents.bindAssertion(contested, to: client, until: Self.expiry) } }
                return try await group.reduce(into: Set<UUID>()) { $0.insert($1) }
            }
            #expect(owners.count == 1 && clients.contains(owners.first!))

            try await stores.consents.deleteAssertionBindings(expiredBefore: Self.expiry)
            #expect(try await stores.consents.bindAssertion(hash, to: UUID(), until: Self.expiry) == first, "not expired yet")
            try await stores.consents.deleteAssertionBindings(expiredBefore: Self.expiry.addingTimeInterval(1))
            let later = UUID()
            #expect(try await stores.consents.bindAssertion(hash, to: later, until: Self.expiry) == later)
        }
    }

    @Test("another client is refused, before and after this instance forgets; the first goes on", arguments: StoreKind.allCases)
    func bindings(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let bindings = AssertionBindings(store: stores.consents, personalData: ConsentStores.personalData)
            let helper = UUID()
            let attacker = UUID()
            let expiry = Self.now + 600
            var answers: [String] = []
            for (instance, assertion, client) in [
                (bindings, "assertion-a", helper), (bindings, "assertion-a", attacker), (bindings, "assertion-a", helper),
                (bindings, "assertion-b", attacker),
                // Another instance, or this one after a restart: the binding is in the store.
                (AssertionBindings(store: stores.consents, personalData: ConsentStores.personalData), "assertion-a", attacker),
                (AssertionBindings(store: stores.consents, personalData: ConsentStores.personalData), "assertion-a", helper),
            ] {
                let refusal = try await instance.check(assertion, clientID: client, expiresAt: expiry, now: Self.now)
                answers.append(refusal?.rawValue ?? "ok")
            }
            #expect(answers == ["ok", "assertion-other-client", "ok", "ok", "assertion-other-client", "ok"])
        }
    }

    @Test("a signature spelled another way (base64url's spare bits, padding, ES256's other s) binds as the original")
    func respelledSignature() async throws {
        let bindings = AssertionBindings(store: InMemoryConsentStore(), personalData: ConsentStores.personalData)
        let first = try await bindings.check("header.payload.sigA", clientID: UUID(), expiresAt: Self.now + 600, now: Self.now)
        #expect(first == nil)
        let respelled = try await bindings.check("header.payload.sigB==", clientID: UUID(), expiresAt: Self.now + 600, now: Self.now)
        #expect(respelled == .otherClient)
        #expect(ConsentStores.personalData.assertionHash("header.payload.x") != ConsentStores.personalData.assertionHash("header.other.x"))
    }

    @Test("the stored key is the keyed hash, never the assertion")
    func keyedHash() async throws {
        let store = InMemoryConsentStore()
        let bindings = AssertionBindings(store: store, personalData: ConsentStores.personalData)
        let client = UUID()
        let refusal = try await bindings.check("header.payload.signature", clientID: client, expiresAt: Self.now + 600, now: Self.now)
        #expect(refusal == nil)
        let hash = ConsentStores.personalData.assertionHash("header.payload.signature")
        #expect(hash.count == 32 && hash != Array("header.payload.signature".utf8))
        #expect(try await store.bindAssertion(hash, to: UUID(), until: Self.expiry) == client)
    }
}
