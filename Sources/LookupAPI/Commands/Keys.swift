import ArgumentParser
import Display
import Foundation

/// `passby keys list|rotate|retire|revoke`: the code-signing keys. A running server picks changes up within seconds.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage code-signing keys.", subcommands: [List.self, Rotate.self, Retire.self, Revoke.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys: kid, algorithm, state.")
        @OptionGroup var data: DataOptions

        func run() throws {
            let keys = try data.keyStore.load()
            let active = keys.last { $0.retired == nil }?.kidString
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

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new key the one that signs; older keys keep verifying.")
        @OptionGroup var data: DataOptions
        @Option(help: "EdDSA (default) or ES256.") var alg: String = "EdDSA"

        func run() throws {
            guard let algorithm = CodeAlgorithm(rawValue: alg) else { throw ValidationError("--alg must be EdDSA or ES256") }
            let key = try data.keyStore.rotate(algorithm)
            print("\(key.kidString) is now the active \(algorithm.rawValue) key")
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a key from signing; it keeps verifying, and stays published, until its codes have expired.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The key's kid (base64url).") var kid: String

        func run() throws {
            do {
                try data.keyStore.retire(kid: kid)
            } catch let error as KeyStore.KeyStoreError {
                throw ValidationError(error.description)
            }
            print("\(kid) retired")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Revoke a compromised key: at once it neither signs nor verifies and is no longer published, so every code it \
                signed fails, printed offline cards included. A new key takes over if it was the one that signed.
                """)
        @OptionGroup var data: DataOptions
        @Argument(help: "The key's kid (base64url).") var kid: String

        func run() throws {
            let outcome: (revoked: ManagedKey, replacement: ManagedKey?)
            do {
                outcome = try data.keyStore.revoke(kid: kid)
            } catch let error as KeyStore.KeyStoreError {
                throw ValidationError(error.description)
            }
            print("\(kid) revoked: its codes now verify as signed by an unknown key")
            if let replacement = outcome.replacement { print("\(replacement.kidString) is now the active key") }
            print("offline cards it signed must be issued again (passby serves them from /terminal or a guardian app)")
        }
    }
}
