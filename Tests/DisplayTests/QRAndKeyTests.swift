import CompressNIO
import Display
import Foundation
import NIOCore
import Testing

@Suite("QR renderings", .timeLimit(.minutes(5)))
struct QRRenderingTests {
    func code() throws -> String { try CodeFormat.encode(TestKeys.claims(), with: TestKeys.ed25519) }

    @Test("display codes fit a small QR at level M; printed ones use Q")
    func versions() throws {
        let text = try code()
        let m = try QRCode(encoding: text, correction: .m)
        let q = try QRCode(encoding: text, correction: .q)
        #expect(m.size == 17 + 4 * m.version)
        #expect(m.version <= 10)
        #expect(q.version >= m.version)
        #expect(m.modules.count == m.size * m.size)
        // Finder pattern: the top-left 7x7 square has a dark ring.
        #expect(m[0, 0] && m[6, 0] && m[0, 6] && m[6, 6] && !m[1, 1])
    }

    @Test("SVG has crisp edges, a title and an aria-label, and escapes the label")
    func svg() throws {
        let qr = try QRCode(encoding: try code(), correction: .m)
        let svg = qr.svg(label: "Health code <green> & valid")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.contains("<title>Health code &lt;green&gt; &amp; valid</title>"))
        #expect(svg.contains("aria-label=\"Health code &lt;green&gt; &amp; valid\""))
        #expect(svg.contains("viewBox=\"0 0 \(qr.size + 8) \(qr.size + 8)\""))
    }

    @Test("PNG is 1-bit greyscale at an integer scale with the quiet zone")
    func png() throws {
        let qr = try QRCode(encoding: try code(), correction: .m)
        let png = qr.png(scale: 5)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = (qr.size + 8) * 5
        #expect(Array(png[16..<20]) == [0, 0, UInt8(width >> 8), UInt8(width & 0xFF)])
        #expect(png[24] == 1)  // bit depth
        #expect(png[25] == 0)  // greyscale
        #expect(Array(png.suffix(8).prefix(4)) == Array("IEND".utf8))
    }

    @Test("a PNG scale below one draws at one pixel per module")
    func pngScaleBelowOne() throws {
        let qr = try QRCode(encoding: try code(), correction: .m)
        #expect(qr.png(scale: 0) == qr.png(scale: 1))
        #expect(qr.png(scale: -3) == qr.png(scale: 1))
    }

    @Test("every PNG pixel is its module's colour, the quiet zone white", arguments: [1, 3, 5, 8])
    func pngPixels(scale: Int) throws {
        let qr = try QRCode(encoding: try code(), correction: .m)
        let png = qr.png(scale: scale)
        // The IDAT chunk follows the signature (8) and IHDR (8 + 13 + 4).
        let idatStart = 8 + 25
        let length = png[idatStart..<idatStart + 4].reduce(0) { $0 << 8 | Int($1) }
        #expect(Array(png[idatStart + 4..<idatStart + 8]) == Array("IDAT".utf8))
        var compressed = ByteBuffer(bytes: png[idatStart + 8..<idatStart + 8 + length])
        let raw = Array(buffer: try compressed.decompress(with: .zlib()))
        let width = (qr.size + 8) * scale
        let rowBytes = (width + 7) / 8
        #expect(raw.count == (rowBytes + 1) * width)
        // Undo the row filters (none, or up: each byte added to the one above it).
        var pixels = [[UInt8]]()
        for y in 0..<width {
            let line = Array(raw[y * (rowBytes + 1) + 1..<(y + 1) * (rowBytes + 1)])
            switch raw[y * (rowBytes + 1)] {
            case 0: pixels.append(line)
            case 2 where y > 0: pixels.append(zip(line, pixels[y - 1]).map { $0 &+ $1 })
            default: Issue.record("row \(y): filter \(raw[y * (rowBytes + 1)])")
            }
        }
        try #require(pixels.count == width)
        var wrong = 0
        for y in 0..<width {
            for x in 0..<width {
                let white = pixels[y][x / 8] & (0x80 >> UInt8(x % 8)) != 0
                let (mx, my) = (x / scale - 4, y / scale - 4)
                let dark = mx >= 0 && my >= 0 && mx < qr.size && my < qr.size && qr[mx, my]
                if white == dark { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }

    @Test("text uses half blocks, two module rows per line")
    func text() throws {
        let qr = try QRCode(encoding: try code(), correction: .m)
        let lines = qr.text().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == (qr.size + 8 + 1) / 2)
        #expect(lines.allSatisfy { $0.count == qr.size + 8 })
        #expect(qr.text().contains("█"))
    }
}

@Suite("Signing keys", .timeLimit(.minutes(5)))
struct KeyStoreTests {
    func store() -> KeyStore {
        KeyStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("passby-keys-\(UUID())"))
    }

    @Test("keys are files only their owner can read; the newest unretired key signs")
    func rotation() throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let first = try store.ensureActiveKey()
        #expect(try store.ensureActiveKey().kidString == first.kidString)
        let second = try store.rotate(.es256, now: first.created + 1)
        let ring = KeyRing(keys: try store.load(), now: second.created, maxCodeLifetime: 100)
        #expect(ring.signing?.kid == second.key.kid)
        #expect(ring.verification.count == 2)
        #expect(Set(ring.published.keys.map(\.kid)) == [first.kidString, second.kidString])
        for name in try FileManager.default.contentsOfDirectory(atPath: store.directory.path) {
            let attributes = try FileManager.default.attributesOfItem(atPath: store.directory.appendingPathComponent(name).path)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
        }
        #expect(try FileManager.default.attributesOfItem(atPath: store.directory.path)[.posixPermissions] as? Int == 0o700)
    }

    @Test("codes signed before a rotation still verify; new codes carry the new kid")
    func oldCodesVerify() throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let old = try store.rotate(.edDSA, now: 1000)
        let oldCode = try CodeFormat.encode(TestKeys.claims(iat: 2000), with: old.key)
        let new = try store.rotate(.es256, now: 1001)
        let ring = KeyRing(keys: try store.load(), now: 2000, maxCodeLifetime: 100)
        let newCode = try CodeFormat.encode(TestKeys.claims(iat: 2000), with: try #require(ring.signing))
        let verifier = CodeVerifier(keys: ring.verification)
        #expect(verifier.verify(oldCode, now: 2000).verdict == .valid)
        #expect(verifier.verify(newCode, now: 2000).verdict == .valid)
        #expect(try CodeFormat.decode(newCode).message.kid == new.key.kid)
    }

    @Test("a retired key verifies and stays published until its codes have expired, then leaves")
    func retirement() throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let old = try store.rotate(.edDSA, now: 1000)
        #expect(throws: KeyStore.KeyStoreError.self) { try store.retire(kid: old.kidString, now: 1001) }
        _ = try store.rotate(.edDSA, now: 1002)
        try store.retire(kid: old.kidString, now: 1003)
        #expect(throws: KeyStore.KeyStoreError.self) { try store.retire(kid: old.kidString, now: 1004) }
        #expect(throws: KeyStore.KeyStoreError.self) { try store.retire(kid: "nope", now: 1004) }
        let during = KeyRing(keys: try store.load(), now: 1003 + 99, maxCodeLifetime: 100)
        #expect(during.verification[old.key.kid] != nil)
        #expect(during.signing?.kid != old.key.kid)
        let after = KeyRing(keys: try store.load(), now: 1003 + 100, maxCodeLifetime: 100)
        #expect(after.verification[old.key.kid] == nil)
        #expect(!after.published.keys.contains { $0.kid == old.kidString })
    }

    @Test("a revoked key neither signs nor verifies nor is published, at once; revoking the signing key makes a new one")
    func revocation() throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let compromised = try store.rotate(.edDSA, now: 1000)
        let before = KeyRing(keys: try store.load(), now: 1000, maxCodeLifetime: 100)
        let code = try CodeFormat.encode(TestKeys.claims(iat: 1000), with: try #require(before.signing))
        #expect(CodeVerifier(keys: before.verification).verify(code, now: 1001).verdict == .valid)

        let (revoked, replacement) = try store.revoke(kid: compromised.kidString, now: 1001)
        #expect(revoked.revoked == 1001 && revoked.retired == 1001)
        let fresh = try #require(replacement, "the only signing key was revoked, so a new one signs")
        #expect(fresh.key.algorithm == .edDSA && fresh.key.kid != compromised.key.kid)
        let after = KeyRing(keys: try store.load(), now: 1002, maxCodeLifetime: 100)
        #expect(after.verification[compromised.key.kid] == nil, "not even within the codes' lifetime, as a retired key would")
        #expect(!after.published.keys.contains { $0.kid == compromised.kidString })
        #expect(after.signing?.kid == fresh.key.kid)
        #expect(CodeVerifier(keys: after.verification).verify(code, now: 1002).verdict == .unknownKey)
        #expect(throws: KeyStore.KeyStoreError.self) { try store.revoke(kid: compromised.kidString, now: 1003) }
        #expect(throws: KeyStore.KeyStoreError.self) { try store.revoke(kid: "nope", now: 1003) }

        // A retired key that is revoked leaves at once too, and no new key is made while one signs.
        let other = try store.rotate(.es256, now: 1004)
        try store.retire(kid: fresh.kidString, now: 1005)
        #expect(try store.revoke(kid: fresh.kidString, now: 1006).replacement == nil)
        let last = KeyRing(keys: try store.load(), now: 1006, maxCodeLifetime: 100)
        #expect(last.verification.keys.map { $0 } == [other.key.kid] && last.signing?.kid == other.key.kid)
    }

    @Test("a running ring picks up a rotation without a restart")
    func liveReload() throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        try store.ensureActiveKey()
        let live = try LiveKeyRing(store: store, maxCodeLifetime: 100, refreshInterval: 0)
        let before = live.current.signing?.kid
        let rotated = try store.rotate(.es256)
        #expect(live.current.signing?.kid == rotated.key.kid)
        #expect(before != rotated.key.kid)
    }

    @Test("the JWK set round-trips, and a JWK whose kid does not match its key is ignored")
    func jwks() throws {
        let set = JWKSet(keys: [JWK(TestKeys.ed25519.publicKey), JWK(TestKeys.p256.publicKey)])
        let decoded = try JSONDecoder().decode(JWKSet.self, from: try JSONEncoder().encode(set))
        #expect(decoded.verificationKeys.count == 2)
        #expect(decoded.keys[1].kty == "EC" && decoded.keys[1].crv == "P-256" && decoded.keys[1].y != nil)
        #expect(decoded.keys[0].kty == "OKP" && decoded.keys[0].y == nil && decoded.keys[0].use == "sig")
        var lying = JWK(TestKeys.ed25519.publicKey)
        lying.kid = Base64URL.encode(TestKeys.other.kid)
        #expect(JWKSet(keys: [lying]).verificationKeys.isEmpty)
    }
}
