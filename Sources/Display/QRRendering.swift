import CompressNIO
import Foundation
import NIOCore

/// The renderings of a QR symbol: SVG (default), PNG and UTF-8 text, each with a 4-module quiet zone.
extension QRCode {
    /// An SVG with crisp edges that screen readers announce by `label`. Dark modules are drawn
    /// as one path of horizontal runs, written as bytes: this is on the lookup's hot path.
    public func svg(label: String, moduleSize: Int = 8) -> String {
        let total = size + 2 * Self.quietZone
        var path: [UInt8] = []
        path.reserveCapacity(size * size * 2)
        func append(_ value: Int) {
            if value >= 10 { append(value / 10) }
            path.append(UInt8(48 + value % 10))
        }
        for y in 0..<size {
            var x = 0
            while x < size {
                guard modules[y * size + x] else {
                    x += 1
                    continue
                }
                var run = 1
                while x + run < size, modules[y * size + x + run] { run += 1 }
                path.append(UInt8(ascii: "M"))
                append(x + Self.quietZone)
                path.append(UInt8(ascii: " "))
                append(y + Self.quietZone)
                path.append(UInt8(ascii: "h"))
                append(run)
                path += [UInt8(ascii: "v"), UInt8(ascii: "1"), UInt8(ascii: "h"), UInt8(ascii: "-")]
                append(run)
                path.append(UInt8(ascii: "z"))
                x += run
            }
        }
        let escaped = Self.escapeXML(label)
        let pixels = total * moduleSize
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(total) \(total)" width="\(pixels)" height="\(pixels)" \
            shape-rendering="crispEdges" role="img" aria-label="\(escaped)"><title>\(escaped)</title>\
            <rect width="\(total)" height="\(total)" fill="#fff"/><path fill="#000" d="\(String(decoding: path, as: UTF8.self))"/></svg>
            """
    }

    /// A 1-bit greyscale PNG, `scale` pixels per module.
    public func png(scale: Int = 8) -> [UInt8] {
        let modulesAcross = size + 2 * Self.quietZone
        let width = modulesAcross * scale
        let rowBytes = (width + 7) / 8
        var raw: [UInt8] = []
        raw.reserveCapacity((rowBytes + 1) * width)
        for pixelY in 0..<width {
            raw.append(0)  // filter: none
            var row = [UInt8](repeating: 0, count: rowBytes)
            let moduleY = pixelY / scale - Self.quietZone
            for pixelX in 0..<width {
                let moduleX = pixelX / scale - Self.quietZone
                let dark = moduleX >= 0 && moduleY >= 0 && moduleX < size && moduleY < size && self[moduleX, moduleY]
                // Greyscale 1-bit: 1 is white.
                if !dark { row[pixelX / 8] |= 0x80 >> UInt8(pixelX % 8) }
            }
            raw += row
        }
        var input = ByteBuffer(bytes: raw)
        let compressed = (try? input.compress(with: .zlib())).map { Array(buffer: $0) } ?? []
        var ihdr: [UInt8] = []
        ihdr += PNGWriter.bigEndian(UInt32(width))
        ihdr += PNGWriter.bigEndian(UInt32(width))
        ihdr += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, no filter set, no interlace
        return PNGWriter.signature + PNGWriter.chunk("IHDR", ihdr) + PNGWriter.chunk("IDAT", compressed) + PNGWriter.chunk("IEND", [])
    }

    /// Two rows of modules per line with half blocks, dark on light, for terminals.
    public func text() -> String {
        let total = size + 2 * Self.quietZone
        func dark(_ x: Int, _ y: Int) -> Bool {
            let mx = x - Self.quietZone
            let my = y - Self.quietZone
            return mx >= 0 && my >= 0 && mx < size && my < size && self[mx, my]
        }
        var lines: [String] = []
        for y in stride(from: 0, to: total, by: 2) {
            var line = ""
            for x in 0..<total {
                switch (dark(x, y), y + 1 < total && dark(x, y + 1)) {
                case (true, true): line += "█"
                case (true, false): line += "▀"
                case (false, true): line += "▄"
                case (false, false): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Escapes text for XML content and attributes.
    public static func escapeXML(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") })
        else {
            return text
        }
        return text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// The few pieces of PNG (RFC 2083) a 1-bit image needs; zlib comes from compress-nio.
enum PNGWriter {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
