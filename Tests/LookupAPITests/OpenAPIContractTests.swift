import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

/// The hand-written `openapi.yaml` and the router describe the same API.
@Suite("The OpenAPI contract", .timeLimit(.minutes(5)))
struct OpenAPIContractTests {
    /// "METHOD /path/{param}" for every operation in the document. The document keeps one layout:
    /// paths indented two spaces under `paths:`, operations four.
    static func specifiedOperations(_ yaml: String) -> Set<String> {
        var operations: Set<String> = []
        var path: String?
        var inPaths = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty { inPaths = line == "paths:" }
            guard inPaths else { continue }
            if let match = line.wholeMatch(of: #/  (/\S*):/#) { path = String(match.1) }
            if let match = line.wholeMatch(of: #/    (get|put|post|delete|patch):/#), let path {
                operations.insert("\(match.1.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The router's routes in the same form, without the pages and their static assets.
    static func routedOperations(_ router: Router<PassbyRequestContext>, files: WebFiles) -> Set<String> {
        Set(
            router.routes.compactMap { route -> String? in
                let path =
                    "/"
                    + route.path.description.split(separator: "/").map { part in
                        part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                    }.joined(separator: "/")
                if path == "/" || (files.byPath[path] != nil && path != "/openapi.yaml") { return nil }
                return "\(route.method) \(path)"
            })
    }

    @Test("every route is in openapi.yaml, and every operation there is a route")
    func routesMatchTheDocument() async throws {
        var components = try await TestApp.memory()
        let files = try WebFiles.bundled()
        components.webFiles = files
        let yaml = String(decoding: try #require(files.byPath["/openapi.yaml"]).bytes, as: UTF8.self)
        let specified = Self.specifiedOperations(yaml)
        let routed = Self.routedOperations(buildRouter(components), files: files)
        #expect(routed.count >= 25, "\(routed.sorted())")
        #expect(routed.subtracting(specified).sorted() == [], "routes missing from openapi.yaml")
        #expect(specified.subtracting(routed).sorted() == [], "operations in openapi.yaml that no route serves")
        #expect(routed.filter { $0.contains(" /v1/") }.count >= 15)
    }

    @Test("passby serves the document at /openapi.yaml")
    func served() async throws {
        var components = try await TestApp.memory()
        components.webFiles = try WebFiles.bundled()
        try await buildApplication(components).test(.router) { client in
            let response = try await client.send(.get, "/openapi.yaml")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/yaml")
            #expect(response.body.hasPrefix("openapi: 3.1.0"))
        }
    }
}
