import Foundation

/// Scratch directories for tests, all under one directory per test process that is removed when
/// the process exits. Roots left by processes that died without exiting are removed on the next run.
public enum TestDirectory {
    static let root: URL = {
        let temporary = FileManager.default.temporaryDirectory
        let prefix = "passby-tests-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix(prefix) {
            // A root whose process is gone (kill(pid, 0) fails with ESRCH) is left over from a crash.
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
        let root = temporary.appendingPathComponent("\(prefix)\(getpid())")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestDirectory.root) }
        return root
    }()

    /// A new, empty directory path named `prefix-<uuid>` (not created: the caller's code may insist on creating it).
    public static func path(_ prefix: String) -> URL {
        root.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    }
}
