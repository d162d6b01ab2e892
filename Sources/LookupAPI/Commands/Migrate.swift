import ArgumentParser
import Database
import Foundation
import Logging

/// `passby migrate`: applies the SQL files of `sql/` that the database has not seen.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @OptionGroup var data: DataOptions

    func run() async throws {
        CommandLogging.bootstrap(level: .info)
        let logger = Logger(label: "passby.migrate")
        // Opening the database migrates it; the log names each file applied.
        _ = try await withDatabase(data, logger: logger) { _ in true }
        print("migrations are up to date")
    }
}
