import ArgumentParser
import Consent
import Database
import Display
import Foundation
import Logging

/// `passby dev …`: tools for demos and tests, named as such.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Development and demo tools.", subcommands: [Assertion.self, Code.self, BenchSeed.self, PostgresBinaries.self])

    /// Prints the PostgreSQL binary directory the embedded cluster uses, so that the outside
    /// tests and benchmarks find PostgreSQL exactly as `passby` does (`PASSBY_PG_BIN`, else the
    /// newest numbered version under /usr/lib/postgresql).
    struct PostgresBinaries: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pg-bin", abstract: "Print the PostgreSQL binary directory passby uses.")

        func run() throws {
            guard let directory = EmbeddedCluster.locateBinaries() else {
                throw ValidationError("PostgreSQL server binaries not found; run scripts/bootstrap.sh or set PASSBY_PG_BIN")
            }
            print(directory.path)
        }
    }

    /// Mints a real-name assertion signed by the development identity provider.
    struct Assertion: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an assertion from the development identity provider.")
        @OptionGroup var data: DataOptions
        @Option(help: "The person's name.") var name: String
        @Option(help: "The person's ID number.") var id: String
        @Option(help: "Lifetime in seconds (Passby accepts at most 600).") var ttl: Int64 = 600
        @Option(name: .customLong("dependent"), help: "An ID number the person is a guardian of (repeatable): a relationship claim.")
        var dependents: [String] = []

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.dev")
            let provider = try await withDatabase(data, logger: logger) { postgres in
                try await DevelopmentIdentityProvider.load(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory)
            }
            let audience = try PassbyConfiguration.fromEnvironment().assertionAudience
            print(try await provider.mint(name: name, idNumber: id, ttl: ttl, audience: audience, dependents: dependents))
        }
    }

    /// Signs a demo code with the data directory's active key, for interoperability tests.
    struct Code: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a demo code (invented subject) with the active key.")
        @OptionGroup var data: DataOptions
        @Option(help: "display or offline.") var kind: String = "display"
        @Option(help: "Write the QR to this file as well.") var qr: String?
        @Option(help: "svg, png or text, for --qr.") var format: String = "png"
        @Option(help: "How many codes to print, one per line (for benchmarks).") var count = 1

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.dev")
            let configuration = try PassbyConfiguration.fromEnvironment()
            guard let kind = CodeKind(rawValue: kind), kind != .receipt else { throw ValidationError("--kind must be display or offline") }
            guard let format = RenderingFormat(rawValue: format) else { throw ValidationError("--format must be svg, png or text") }
            guard count >= 1 else { throw ValidationError("--count must be at least 1") }
            let keys = try await withDatabase(data, logger: logger) { postgres in
                try await SharedCodeKeys(vault: data.vault(postgres, logger: logger)).ensureSigningKey(importing: data.keyStore)
            }
            guard let key = KeyLifecycle.active(keys)?.key else { throw ValidationError("no key signs: passby keys rotate makes one") }
            let now = Int64(Date().timeIntervalSince1970)
            var generator = SystemRandomNumberGenerator()
            for _ in 1..<count {
                print(try CodeFormat.encode(claims(kind: kind, now: now, configuration: configuration, generator: &generator), with: key))
            }
            let code = try CodeFormat.encode(claims(kind: kind, now: now, configuration: configuration, generator: &generator), with: key)
            if let qr {
                let rendering = try Rendering(code: code, format: format, correction: kind == .offline ? .q : .m, label: "Passby demo code")
                try Data(rendering.bytes).write(to: URL(fileURLWithPath: qr))
            }
            print(code)
        }

        func claims(kind: CodeKind, now: Int64, configuration: PassbyConfiguration, generator: inout SystemRandomNumberGenerator) -> CodeClaims {
            CodeClaims(
                issuer: configuration.issuer, issuedAt: now,
                expiresAt: now + (kind == .display ? configuration.displayCodeLifetime : configuration.offlineCodeLifetime),
                codeID: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }, kind: kind,
                maskedName: "王*英", maskedID: "1101**********002X", ageGroup: "elder",
                status: kind == .display ? "green" : nil, statusTime: kind == .display ? now - 60 : nil,
                generation: kind == .offline ? 1 : nil, subjectReference: kind == .offline ? [0, 1, 2, 3, 4, 5, 6, 7] : nil)
        }
    }
}
