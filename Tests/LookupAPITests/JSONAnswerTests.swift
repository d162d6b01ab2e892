import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import LookupAPI

/// `JSONAnswer` must write what `PassbyJSON.encoder()` writes for the same values, as JSON.
@Suite("Hot-path JSON answers")
struct JSONAnswerTests {
    struct Reference: Encodable {
        var text: String
        var count: Int64
        var flag: Bool
        var at: Date
        var missing: String?
    }

    static func object(_ bytes: some Sequence<UInt8>) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test(
        "strings, numbers, flags and times read back as JSONEncoder's do; absent values are left out",
        arguments: [
            "plain", "", "quote \" and reverse solidus \\ and slash /", "line\nfeed\r\ttab \u{01}\u{1F}\u{7F}", "王*英 1101**********002X",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>a &amp; b</title></svg>", "emoji 👵🏻 and U+2028 \u{2028}",
        ])
    func matchesEncoder(text: String) throws {
        for seconds: Int64 in [0, 1, 951_782_400, 1_795_000_000, 4_107_542_399, 253_402_300_799] {
            var answer = JSONAnswer()
            answer.add("text", text)
            answer.add("count", seconds)
            answer.add("flag", seconds.isMultiple(of: 2))
            answer.add("at", time: seconds)
            answer.add("missing", nil as String?)
            let reference = try PassbyJSON.encoder().encode(
                Reference(text: text, count: seconds, flag: seconds.isMultiple(of: 2), at: Date(timeIntervalSince1970: Double(seconds))))
            #expect(try Self.object(answer.closed.readableBytesView) == Self.object(reference))
        }
    }

    @Test("a nested object, and an SVG given as bytes, are written whole")
    func nested() throws {
        let svg = Array("<svg role=\"img\" aria-label=\"Health code, green\"/>".utf8)
        var inner = JSONAnswer()
        inner.add("data", utf8: svg)
        var outer = JSONAnswer()
        outer.add("rendering", object: inner)
        let read = try Self.object(outer.closed.readableBytesView)
        #expect((read["rendering"] as? NSDictionary)?["data"] as? String == String(decoding: svg, as: UTF8.self))
        let response = outer.response(status: .created)
        #expect(response.status == .created)
        #expect(response.headers[.contentType] == "application/json; charset=utf-8")
        #expect(response.headers[.cacheControl] == "no-store")
    }
}
