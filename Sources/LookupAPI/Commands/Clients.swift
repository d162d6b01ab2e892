import ArgumentParser
import Foundation
import Logging

/// `passby clients add|list|revoke`: API clients and their keys.
struct Clients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API clients.", subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client and print its key, once.")
        @OptionGroup var data: DataOptions
        @Option(help: "A name that says who the client is.") var name: String
        @Option(help: "One of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).") var role: String
        @Flag(help: "Print one JSON object {id, name, role, key}.") var json = false

        func validate() throws {
            guard Role(rawValue: role) != nil else {
                throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 100 else {
                throw ValidationError("--name must be 1 to 100 characters")
            }
        }

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let (role, name) = (Role(rawValue: role)!, name)
            let (client, key) = try await withDatabase(data, logger: Logger(label: "passby.clients")) { postgres in
                try await PostgresAPIClientRepository(client: postgres, logger: Logger(label: "passby.clients"))
                    .create(name: name, role: role)
            }
            if json {
                let object = ["id": client.id.uuidString.lowercased(), "name": client.name, "role": client.role.rawValue, "key": key]
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(object), as: UTF8.self))
            } else {
                print("client \(client.id.uuidString.lowercased()) (\(client.role.rawValue)) created")
                print("key: \(key)")
                print("The key is shown only now; store it safely.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients (never their keys).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let clients = try await withDatabase(data, logger: Logger(label: "passby.clients")) { postgres in
                try await PostgresAPIClientRepository(client: postgres, logger: Logger(label: "passby.clients")).list()
            }
            for client in clients {
                let state = client.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                let role = client.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                print("\(client.id.uuidString.lowercased())  \(role)  \(state)  \(client.name)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client's key; it fails at once.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The client's id.") var id: String

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            guard let uuid = UUID(uuidString: id) else { throw ValidationError("the id must be a UUID") }
            let revoked = try await withDatabase(data, logger: Logger(label: "passby.clients")) { postgres in
                try await PostgresAPIClientRepository(client: postgres, logger: Logger(label: "passby.clients")).revoke(id: uuid)
            }
            guard revoked else {
                FileHandle.standardError.write(Data("no active client with id \(id)\n".utf8))
                throw ExitCode(1)
            }
            print("client \(id.lowercased()) revoked")
        }
    }
}
