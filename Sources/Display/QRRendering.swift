import CompressNIO
import Foundation
import NIOCore

/// The renderings of a QR symbol: SVG (default), PNG and UTF-8 text, each with a 4-module quiet zone.
extension QRCode {
    /// An SVG with crisp edges that screen readers announce by `label`. Dark modules are drawn
    /// as one path of horizontal runs.
    public func svg(label: String, moduleSize: Int = 8) -> String {
        String(decoding: svgBytes(label: label, moduleSize: moduleSize), as: UTF8.self)
    }

    /// `svg(label:moduleSize:)` as UTF-8, written as bytes into one array: this is on the
    /// lookup's hot path, which sends the bytes on as they are.
    public func svgBytes(label: String, moduleSize: Int = 8) -> [UInt8] {
        let total = size + 2 * Self.quietZone
        let escaped = Self.escapeXML(label)
        let pixels = total * moduleSize
        var svg: [UInt8] = []
        svg.reserveCapacity(size * size * 2 + 2 * escaped.utf8.count + 320)
        func append(_ value: Int) {
            if value >= 10 { append(value / 10) }
            svg.append(UInt8(48 + value % 10))
        }
        svg += #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 "#.utf8
        append(total)
        svg.append(UInt8(ascii: " "))
        append(total)
        svg += #"" width=""#.utf8
        append(pixels)
        svg += #"" height=""#.utf8
        append(pixels)
        svg += #"" shape-rendering="crispEdges" role="img" aria-label=""#.utf8
        svg += escaped.utf8
        svg += #""><title>"#.utf8
        svg += escaped.utf8
        svg += #"</title><rect width=""#.utf8
        append(total)
        svg += #"" height=""#.utf8
        append(total)
        svg += ##"" fill="#fff"/><path fill="#000" d=""##.utf8
        for y in 0..<size {
            var x = 0
            while x < size {
                guard modules[y * size + x] else {
                    x += 1
                    continue
                }
                var run = 1
                while x + run < size, modules[y * size + x + run] { run += 1 }
                svg.append(UInt8(ascii: "M"))
                append(x + Self.quietZone)
                svg.append(UInt8(ascii: " "))
                append(y + Self.quietZone)
                svg.append(UInt8(ascii: "h"))
                append(run)
                svg += [UInt8(ascii: "v"), UInt8(ascii: "1"), UInt8(ascii: "h"), UInt8(ascii: "-")]
                append(run)
                svg.append(UInt8(ascii: "z"))
                x += run
            }
        }
        svg += #""/></svg>"#.utf8
        return svg
    }

    /// A 1-bit greyscale PNG, `scale` pixels per module. Each row of modules is packed into
    /// bits once; the `scale - 1` pixel rows under it repeat it, written with PNG's Up filter as
    /// zeros, and zlib's run-length strategy compresses those runs in one pass. The cost grows with
    /// modules, not pixels.
    public func png(scale requested: Int = 8) -> [UInt8] {
        let scale = max(1, requested)
        let modulesAcross = size + 2 * Self.quietZone
        let width = modulesAcross * scale
        let rowBytes = (width + 7) / 8
        var raw: [UInt8] = []
        raw.reserveCapacity((rowBytes + 1) * width)
        var row = [UInt8](repeating: 0, count: rowBytes + 1)  // filter byte (none), then the pixels
        for moduleY in -Self.quietZone..<(size + Self.quietZone) {
            for index in row.indices { row[index] = index == 0 ? 0 : 0xFF }  // greyscale 1-bit: 1 is white
            if moduleY >= 0 && moduleY < size {
                for moduleX in 0..<size where modules[moduleY * size + moduleX] {
                    let first = (moduleX + Self.quietZone) * scale
                    for pixelX in first..<(first + scale) { row[1 + pixelX / 8] &= ~(0x80 >> UInt8(pixelX % 8)) }
                }
            }
            if width % 8 != 0 { row[rowBytes] &= 0xFF << UInt8(8 - width % 8) }  // padding bits stay 0
            raw += row
            for _ in 1..<scale {
                raw.append(2)  // filter: up, so the same pixels are all zeros
                raw += repeatElement(0, count: rowBytes)
            }
        }
        var input = ByteBuffer(bytes: raw)
        let compressed = (try? input.compress(with: Self.pngCompression)).map { Array(buffer: $0) } ?? []
        var ihdr: [UInt8] = []
        ihdr += PNGWriter.bigEndian(UInt32(width))
        ihdr += PNGWriter.bigEndian(UInt32(width))
        ihdr += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, no filter set, no interlace
        return PNGWriter.signature + PNGWriter.chunk("IHDR", ihdr) + PNGWriter.chunk("IDAT", compressed) + PNGWriter.chunk("IEND", [])
    }

    /// Run-length matches reach back one byte, so a small window and state do as well as zlib's
    /// defaults, without allocating a quarter of a megabyte per image.
    static let pngCompression = CompressionAlgorithm.zlib(configuration: .init(windowSize: 9, memoryLevel: 2, strategy: .rle))

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
