import Display
import Testing

@Suite("CBOR", .timeLimit(.minutes(5)))
struct CBORTests {
    func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Vectors from RFC 8949 Appendix A.
    @Test(
        "encodes the RFC 8949 examples",
        arguments: [
            (CBOR.int(0), "00"), (.int(23), "17"), (.int(24), "1818"), (.int(1000), "1903e8"),
            (.int(1_000_000), "1a000f4240"), (.int(1_000_000_000_000), "1b000000e8d4a51000"),
            (.int(-1), "20"), (.int(-1000), "3903e7"), (.int(-70001), "3a00011170"),
            (.bytes([1, 2, 3, 4]), "4401020304"), (.text("IETF"), "6449455446"), (.text("水"), "63e6b0b4"),
            (.array([.int(1), .array([.int(2), .int(3)])]), "8201820203"),
            (.bool(false), "f4"), (.bool(true), "f5"), (.null, "f6"),
            (.tagged(18, .array([])), "d280"),
        ])
    func encodes(_ item: CBOR, _ expected: String) throws {
        #expect(item.encoded() == hex(expected))
        #expect(try CBORDecoder.decode(hex(expected)) == item)
    }

    @Test("map keys are sorted by their encoded bytes, whatever the order given")
    func canonicalMaps() {
        let map = CBOR.map([.init(.text("b"), .int(1)), .init(.int(-1), .int(2)), .init(.int(10), .int(3)), .init(.text("a"), .int(4))])
        // 0a < 20 < 61 'a' < 61 'b'
        #expect(map.encoded() == hex("a40a032002616104616201"))
    }

    @Test(
        "the decoder refuses what Passby never writes, with a typed reason",
        arguments: [
            ("9f01ff", CBORDecoder.Failure.indefiniteLength),  // indefinite array
            ("5f42010243030405ff", .indefiniteLength),  // indefinite byte string
            ("a2616101616102", .duplicateKey),  // {"a": 1, "a": 2}
            ("0102", .trailingBytes),
            ("1903", .truncated),
            ("62c328", .invalidUTF8),
            ("f93c00", .unsupported),  // half float
            ("f7", .unsupported),  // undefined
            ("1c", .unsupported),  // reserved additional info
            ("9bffffffffffffffff", .truncated),  // an array that claims 2^64-1 items
            ("818181818181818181818100", .tooDeep),
            ("", .truncated),
        ])
    func refuses(_ input: String, _ failure: CBORDecoder.Failure) {
        #expect(throws: failure) { try CBORDecoder.decode(hex(input)) }
    }
}

@Suite("Base45", .timeLimit(.minutes(5)))
struct Base45Tests {
    /// Vectors from RFC 9285 §4.
    @Test(
        "encodes and decodes the RFC 9285 examples",
        arguments: [
            ("AB", "BB8"), ("Hello!!", "%69 VD92EX0"), ("base-45", "UJCLQE7W581"), ("ietf!", "QED8WEX0"),
        ])
    func vectors(_ plain: String, _ encoded: String) throws {
        #expect(Base45.encode(Array(plain.utf8)) == encoded)
        #expect(try Base45.decode(encoded) == Array(plain.utf8))
    }

    @Test(
        "refuses characters outside the alphabet, a dangling character and chunks out of range",
        arguments: ["GGW", "ZZZ", "a", "BB", "BB8A", "QED8WEX0!", "GG"])  // GGW = 65536; BB = 506 > 255
    func refuses(_ input: String) {
        #expect(throws: Base45.InvalidInput.self) { try Base45.decode(input) }
    }

    @Test("random bytes round-trip")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(try Base45.decode(Base45.encode(bytes)) == bytes)
        }
    }
}
