import Testing

@testable import LookupAPI

/// Finding 1 of the adversarial review: a plain `serve` trusted the development identity
/// provider, so anyone who reached it could mint real-name assertions for anyone.
@Suite("When the development identity provider is trusted")
struct DevelopmentProviderPolicyTests {
    @Test("never without --demo, whatever PASSBY_DEV_IDP says")
    func notWithoutDemo() throws {
        var configuration = PassbyConfiguration()
        configuration.developmentIdentityProvider = true
        #expect(try !IdentityProviders.developmentProviderTrusted(demo: false, host: "127.0.0.1", configuration: configuration))
        #expect(try !IdentityProviders.developmentProviderTrusted(demo: false, host: "0.0.0.0", configuration: configuration))
    }

    @Test("with --demo on a loopback address, unless PASSBY_DEV_IDP=off")
    func demoOnLoopback() throws {
        var configuration = PassbyConfiguration()
        for host in ["127.0.0.1", "127.3.2.1", "::1", "localhost"] {
            #expect(try IdentityProviders.developmentProviderTrusted(demo: true, host: host, configuration: configuration), "\(host)")
        }
        configuration.developmentIdentityProvider = false
        #expect(try !IdentityProviders.developmentProviderTrusted(demo: true, host: "127.0.0.1", configuration: configuration))
        #expect(try !IdentityProviders.developmentProviderTrusted(demo: true, host: "0.0.0.0", configuration: configuration))
    }

    @Test("--demo on any other address, or beside configured providers, is a start-up error")
    func refusedElsewhere() {
        var configuration = PassbyConfiguration()
        for host in ["0.0.0.0", "::", "10.0.0.5", "127.0.0.1.example.org", "1127.0.0.1", "passby.example"] {
            #expect(throws: IdentityProviders.ConfigurationError.self, "\(host)") {
                try IdentityProviders.developmentProviderTrusted(demo: true, host: host, configuration: configuration)
            }
        }
        configuration.identityProvidersFile = "/etc/passby/providers.json"
        #expect(throws: IdentityProviders.ConfigurationError.self) {
            try IdentityProviders.developmentProviderTrusted(demo: true, host: "127.0.0.1", configuration: configuration)
        }
    }
}
