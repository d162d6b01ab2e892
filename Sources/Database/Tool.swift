import Foundation
import Subprocess
import SystemPackage

/// Runs the PostgreSQL tools (`initdb`, `pg_ctl`) and reports their output on failure.
enum Tool {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: String
        let output: String
        var description: String { "\(command) ended with \(status): \(output)" }
    }

    /// Runs `arguments[0]` with the rest as its arguments; returns whether it exited 0, and its output.
    @discardableResult
    static func run(_ arguments: [String], allowFailure: Bool = false) async throws -> (succeeded: Bool, output: String) {
        let result = try await Subprocess.run(
            .path(FilePath(arguments[0])), arguments: .init(Array(arguments.dropFirst())), environment: environment,
            input: .none, output: .string(limit: 1 << 20), error: .combinedWithOutput)
        let output = result.standardOutput
        let succeeded = result.terminationStatus.isSuccess
        if !succeeded && !allowFailure {
            throw Failure(command: arguments.joined(separator: " "), status: "\(result.terminationStatus)", output: output)
        }
        return (succeeded, output)
    }

    /// This process's environment without Passby's own settings and database URLs: PostgreSQL,
    /// which the tools start, must not hold the key-encryption key, the server secret or passwords
    /// (a database superuser could read them with `COPY … FROM PROGRAM 'env'`).
    static var environment: Environment {
        let kept = ProcessInfo.processInfo.environment.filter { name, _ in
            !name.hasPrefix("PASSBY_") && !name.hasSuffix("DATABASE_URL") && !name.hasPrefix("PG")
        }
        return .custom(Dictionary(uniqueKeysWithValues: kept.compactMap { name, value in Environment.Key(rawValue: name).map { ($0, value) } }))
    }

    /// Starts `script` in a shell of its own session that outlives this process; returns at once.
    static func spawnDetached(script: String) async throws {
        let quoted = "'" + script.replacingOccurrences(of: "'", with: "'\\''") + "'"
        try await run(["/bin/sh", "-c", "setsid /bin/sh -c \(quoted) </dev/null >/dev/null 2>&1 &"])
    }
}
