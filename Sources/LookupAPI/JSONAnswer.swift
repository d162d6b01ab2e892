import HTTPTypes
import Hummingbird
import NIOCore

/// A JSON object written straight into a buffer, for the answers of the two hot routes (lookups
/// and verifications). Foundation's `JSONEncoder`, with snake_case keys converted at run time and
/// ISO 8601 dates through a formatter, cost a lookup more than its signature did (README, Benchmarks).
///
/// It writes what `PassbyJSON.encoder()` would: keys as given (already snake_case), absent values
/// left out, times in RFC 3339 UTC to the second. Strings are escaped per RFC 8259: quotation mark,
/// reverse solidus and control characters; everything else, UTF-8 included, is copied as it is.
struct JSONAnswer {
    private var buffer: ByteBuffer
    private var empty = true

    init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        buffer.writeInteger(UInt8(ascii: "{"))
    }

    mutating func add(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        writeKey(key)
        writeString(value)
    }

    mutating func add(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        writeKey(key)
        buffer.writeString(String(value))
    }

    mutating func add(_ key: StaticString, _ value: Bool) {
        writeKey(key)
        buffer.writeStaticString(value ? "true" : "false")
    }

    /// A time given in Unix seconds, as RFC 3339 in UTC (`2026-12-04T20:20:05Z`).
    mutating func add(_ key: StaticString, time unixSeconds: Int64?) {
        guard let unixSeconds else { return }
        writeKey(key)
        buffer.writeInteger(UInt8(ascii: "\""))
        Self.writeTime(unixSeconds, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func add(_ key: StaticString, object: JSONAnswer) {
        writeKey(key)
        var inner = object.closed
        buffer.writeBuffer(&inner)
    }

    /// The object's bytes, closed.
    var closed: ByteBuffer {
        var bytes = buffer
        bytes.writeInteger(UInt8(ascii: "}"))
        return bytes
    }

    /// The answer, typed as `PassbyRequestContext.respond` types its own and never cached.
    func response(status: HTTPResponse.Status) -> Response {
        let body = closed
        let headers: HTTPFields = [
            .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .cacheControl: "no-store",
        ]
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    private mutating func writeKey(_ key: StaticString) {
        if !empty { buffer.writeInteger(UInt8(ascii: ",")) }
        empty = false
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(key)
        buffer.writeStaticString("\":")
    }

    /// Text given as its UTF-8 bytes (an SVG), written as a JSON string.
    mutating func add(_ key: StaticString, utf8 bytes: [UInt8]) {
        writeKey(key)
        bytes.withUnsafeBufferPointer { writeString($0) }
    }

    private mutating func writeString(_ value: String) {
        var text = value
        text.withUTF8 { writeString($0) }
    }

    private mutating func writeString(_ bytes: UnsafeBufferPointer<UInt8>) {
        buffer.writeInteger(UInt8(ascii: "\""))
        do {
            var start = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start...]))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`; the days become a civil date by Howard Hinnant's
    /// `civil_from_days`. Times are those of signed claims, which decoding keeps within 1970…9999.
    static func writeTime(_ unixSeconds: Int64, to buffer: inout ByteBuffer) {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondOfDay = unixSeconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                buffer.writeInteger(UInt8(48 + (value / divisor) % 10))
                divisor /= 10
            }
        }
        digits(year, 4)
        buffer.writeInteger(UInt8(ascii: "-"))
        digits(month, 2)
        buffer.writeInteger(UInt8(ascii: "-"))
        digits(day, 2)
        buffer.writeInteger(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        buffer.writeInteger(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        buffer.writeInteger(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        buffer.writeInteger(UInt8(ascii: "Z"))
    }
}
