import Testing

@testable import LookupAPI

@Suite("PASSBY_ASSERTION_AUDIENCE")
struct AssertionAudienceSettingTests {
    /// An empty value means unset, as for every PASSBY_ setting.
    @Test("defaults to passby (also when empty), takes a configured audience, and refuses an overlong one")
    func setting() throws {
        #expect(try PassbyConfiguration.fromEnvironment([:]).assertionAudience == "passby")
        #expect(try PassbyConfiguration.fromEnvironment(["PASSBY_ASSERTION_AUDIENCE": "passby-region-7"]).assertionAudience == "passby-region-7")
        #expect(try PassbyConfiguration.fromEnvironment(["PASSBY_ASSERTION_AUDIENCE": ""]).assertionAudience == "passby")
        #expect(throws: (any Error).self) {
            try PassbyConfiguration.fromEnvironment(["PASSBY_ASSERTION_AUDIENCE": String(repeating: "a", count: 201)])
        }
    }
}
