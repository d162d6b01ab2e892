import Consent
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

@Suite("The pages: /helper, /checkpoint, /terminal and their assets", .timeLimit(.minutes(5)))
struct WebPagesTests {
    static func components(developmentIdentityProvider: Bool = true) async throws -> PassbyComponents {
        var components = try await TestApp.memory()
        components.webFiles = try WebFiles.bundled()
        if developmentIdentityProvider { components.developmentIdentityProvider = TestApp.identityProvider }
        return components
    }

    @Test(
        "every page and asset is served with a CSP that forbids inline scripts and other origins",
        arguments: [
            "/helper", "/checkpoint", "/terminal", "/assets/common.js", "/assets/passby.css", "/assets/i18n/zh-CN.json", "/assets/i18n/en.json",
        ])
    func servedWithPolicy(path: String) async throws {
        try await buildApplication(try await Self.components()).test(.router) { client in
            let response = try await client.send(.get, path)
            #expect(response.status == .ok)
            let policy = try #require(response.headers[.contentSecurityPolicy])
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe"))
            #expect(response.headers[.xContentTypeOptions] == "nosniff")
            if path.hasPrefix("/assets/") == false {
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                // No inline script or handler: every script is a file of Passby's own.
                #expect(!response.body.contains("<script>") && !response.body.contains(" onclick="))
                #expect(response.body.contains(#"<html lang="zh-CN">"#))
            }
            let tag = try #require(response.headers[.eTag])
            #expect(try await client.send(.get, path, headers: [.ifNoneMatch: tag]).status == .notModified)
        }
    }

    @Test("each language keeps every string, and both have the same keys")
    func stringsMatch() throws {
        let files = try WebFiles.bundled()
        let tables = try ["zh-CN", "en"].map { language in
            try #require(try JSONSerialization.jsonObject(with: Data(files.byPath["/assets/i18n/\(language).json"]!.bytes)) as? [String: String])
        }
        #expect(Set(tables[0].keys) == Set(tables[1].keys))
        // Every key a page names is in the tables.
        for (path, file) in files.byPath where path.hasSuffix(".js") || !path.contains(".") {
            let source = String(decoding: file.bytes, as: UTF8.self)
            let named =
                source.matches(of: #/data-i18n(?:-label|-alt)?="([a-z_.\-]+)"/#).map { String($0.1) }
                + source.matches(of: #/\bt\("([a-z_.\-]+)"/#).map { String($0.1) }
                + source.matches(of: #/dataset\.i18n(?:Alt|Label)? = "([a-z_.\-]+)"/#).map { String($0.1) }
            for key in named { #expect(tables[0][key] != nil, "\(path) names \(key)") }
            if path == "/assets/helper.js" { #expect(named.count > 5) }
        }
    }

    @Test("the helper page's client key is registered once, works for lookups' role, and stays revoked once revoked")
    func helperClient() async throws {
        let components = try await Self.components()
        try await WebHelperClient.ensure(in: components.clients, personalData: components.personalData)
        try await WebHelperClient.ensure(in: components.clients, personalData: components.personalData)
        let clients = try await components.clients.list().filter { $0.name == WebHelperClient.name }
        #expect(clients.count == 1 && clients.first?.role == .helper)
        try await buildApplication(components).test(.router) { client in
            let config = try json(try await client.send(.get, "/web/helper.json").body)
            let key = try #require(config["client_key"] as? String)
            #expect(try await components.clients.client(keyHash: ClientKey.hash(key))?.name == WebHelperClient.name)
            #expect(try await components.clients.revoke(id: clients[0].id))
            try await WebHelperClient.ensure(in: components.clients, personalData: components.personalData)
            #expect(try await components.clients.client(keyHash: ClientKey.hash(key)) == nil)
            try expectProblem(try await client.send(.post, "/v1/lookups", key: key, body: "{}"), .unauthorized, "invalid-credentials")
        }
    }

    @Test("the demo sign-in mints a verifiable assertion, refuses a bad ID number, and is absent when the provider is off")
    func demoSignIn() async throws {
        let components = try await Self.components()
        try await buildApplication(components).test(.router) { client in
            let minted = try await client.send(
                .post, "/web/dev-idp/assertions", body: #"{"name":"\#(People.passerby.name)","id_number":"\#(People.passerby.idNumber)"}"#)
            #expect(minted.status == .created)
            let assertion = try #require(try json(minted.body)["assertion"] as? String)
            let person = try await components.assertions.verify(assertion, now: Date(), today: components.configuration.agePolicy.today())
            #expect(person.id.normalized == People.passerby.idNumber && person.name == People.passerby.name)
            let refused = try await client.send(.post, "/web/dev-idp/assertions", body: #"{"name":"刘洋","id_number":"440305199203040515"}"#)
            try expectProblem(refused, .unprocessableContent, "checksum")
            #expect(!refused.body.contains("440305199203040515"))
            try expectProblem(
                try await client.send(.post, "/web/dev-idp/assertions", body: #"{"name":"\#(People.passerby.name)"}"#), .badRequest,
                "malformed-request")
        }
        try await buildApplication(try await Self.components(developmentIdentityProvider: false)).test(.router) { client in
            try expectProblem(
                try await client.send(
                    .post, "/web/dev-idp/assertions", body: #"{"name":"\#(People.passerby.name)","id_number":"\#(People.passerby.idNumber)"}"#),
                .notFound, "not-found")
            #expect(try json(try await client.send(.get, "/web/helper.json").body)["development_identity_provider"] as? Bool == false)
        }
    }
}
