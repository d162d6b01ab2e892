import ArgumentParser
import Foundation
import HummingbirdBcrypt
import Logging

/// `passby staff add|disable|list`: checkpoint staff accounts.
struct StaffCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff", abstract: "Manage checkpoint staff accounts.", subcommands: [Add.self, Disable.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account; the password is read from standard input.")
        @OptionGroup var data: DataOptions
        @Option(help: "The login name.") var username: String

        func validate() throws {
            guard (1...64).contains(username.count), username.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw ValidationError("--username must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
        }

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            guard let password = readLine(strippingNewline: true), password.count >= 8, password.utf8.count <= 72 else {
                throw ValidationError("give a password of 8 to 72 bytes on standard input")
            }
            let cost = try PassbyConfiguration.fromEnvironment().bcryptCost
            let hash = Bcrypt.hash(password, cost: cost)
            let (name, logger) = (username, Logger(label: "passby.staff"))
            let account = try await withDatabase(data, logger: logger) { postgres in
                try await PostgresStaffRepository(client: postgres, logger: logger).add(username: name, passwordHash: hash)
            }
            guard let account else { throw ValidationError("the username \(username) is taken") }
            print("staff \(account.username) added")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account; its sessions stop working at once.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The login name.") var username: String

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let (name, logger) = (username, Logger(label: "passby.staff"))
            let disabled = try await withDatabase(data, logger: logger) {
                try await PostgresStaffRepository(client: $0, logger: logger).disable(username: name)
            }
            guard disabled else {
                throw ValidationError("no active account \(username)")
            }
            print("staff \(username) disabled")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.staff")
            for account in try await withDatabase(data, logger: logger, { try await PostgresStaffRepository(client: $0, logger: logger).list() }) {
                print("\(account.username)  \(account.disabledAt == nil ? "active" : "disabled")")
            }
        }
    }
}
