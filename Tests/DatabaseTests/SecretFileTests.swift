import Database
import Foundation
import Testing

/// Secret files (the server secret, keys, demo keys) are private from their first byte.
@Suite("Secret files")
struct SecretFileTests {
    @Test("a secret is created 0600 even under an open umask, and an existing file is never overwritten")
    func privateFromTheStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous = umask(0)
        defer { umask(previous) }
        let file = directory.appendingPathComponent("secret")
        let bytes = try SecretFile.loadOrCreate(at: file, length: 32)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try SecretFile.loadOrCreate(at: file, length: 32) == bytes)
        #expect(throws: (any Error).self) { try SecretFile.writePrivate([1, 2, 3], to: file) }
        #expect(try SecretFile.loadOrCreate(at: file, length: 32) == bytes, "the existing secret is kept")
    }
}
