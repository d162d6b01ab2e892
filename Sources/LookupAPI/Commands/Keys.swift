import ArgumentParser
import Display
import Foundation
import Logging

/// `passby keys list|rotate|retire|revoke`: the code-signing keys, kept in the database and
/// shared by every instance on it. Running servers pick a change up within seconds.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage code-signing keys.", subcommands: [List.self, Rotate.self, Retire.self, Revoke.self])

    /// Runs `body` with the database's code keys, as their owner.
    static func withCodeKeys<T: Sendable>(_ data: DataOptions, _ body: @escaping @Sendable (SharedCodeKeys) async throws -> T) async throws -> T {
        CommandLogging.bootstrap(level: .error)
        let logger = Logger(label: "passby.keys")
        do {
            return try await withDatabase(data, logger: logger) { postgres in
                let keys = SharedCodeKeys(vault: try data.vault(postgres, logger: logger))
                _ = try await keys.ensureSigningKey(importing: data.keyStore)
                return try await body(keys)
            }
        } catch let error as KeyStore.KeyStoreError {
            throw ValidationError(error.description)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys: kid, algorithm, state.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            let keys = try await Keys.withCodeKeys(data) { try await $0.load() }
            let active = KeyLifecycle.active(keys)?.kidString
            for key in keys {
                let state =
                    key.revoked.map { "revoked \(Self.date($0))" }
                    ?? (key.kidString == active ? "active" : key.retired.map { "retired \(Self.date($0))" } ?? "verifying")
                let algorithm = key.key.algorithm.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
                print("\(key.kidString)  \(algorithm)  created \(Self.date(key.created))  \(state)")
            }
        }

        static func date(_ seconds: Int64) -> String {
            Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new key the one that signs; older keys keep verifying.")
        @OptionGroup var data: DataOptions
        @Option(help: "EdDSA (default) or ES256.") var alg: String = "EdDSA"

        func run() async throws {
            guard let algorithm = CodeAlgorithm(rawValue: alg) else { throw ValidationError("--alg must be EdDSA or ES256") }
            let key = try await Keys.withCodeKeys(data) { try await $0.rotate(algorithm) }
            print("\(key.kidString) is now the active \(algorithm.rawValue) key")
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a key from signing; it keeps verifying, and stays published, until its codes have expired.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The key's kid (base64url).") var kid: String

        func run() async throws {
            let kid = kid
            _ = try await Keys.withCodeKeys(data) { try await $0.retire(kid: kid) }
            print("\(kid) retired")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Revoke a compromised key: at once it neither signs nor verifies and is no longer published, so every code it \
                signed fails, printed offline cards included. A new key takes over if it was the one that signed.
                """)
        @OptionGroup var data: DataOptions
        @Argument(help: "The key's kid (base64url).") var kid: String

        func run() async throws {
            let kid = kid
            let outcome = try await Keys.withCodeKeys(data) { try await $0.revoke(kid: kid) }
            print("\(kid) revoked: its codes now verify as signed by an unknown key")
            if let replacement = outcome.replacement { print("\(replacement.kidString) is now the active key") }
            print("offline cards it signed must be issued again (passby serves them from /terminal or a guardian app)")
        }
    }
}
