import CQRencode

/// A QR symbol: a square of modules, dark or light, without the quiet zone.
public struct QRCode: Sendable, Equatable {
    /// Error correction: M for display codes, Q for printed offline codes.
    public enum Correction: Sendable {
        case m, q

        var level: QRecLevel {
            switch self {
            case .m: QR_ECLEVEL_M
            case .q: QR_ECLEVEL_Q
            }
        }
    }

    public let size: Int
    /// Row-major, `size * size` entries, true for dark.
    public let modules: [Bool]
    /// The QR version (1–40).
    public let version: Int

    public struct EncodingFailed: Error {}

    /// Encodes `text` with libqrencode. Base45 text falls entirely in the alphanumeric set, so
    /// libqrencode's mode optimisation encodes a code in alphanumeric mode.
    public init(encoding text: String, correction: Correction) throws {
        guard let symbol = QRcode_encodeString(text, 0, correction.level, QR_MODE_8, 1) else { throw EncodingFailed() }
        defer { QRcode_free(symbol) }
        let width = Int(symbol.pointee.width)
        let data = UnsafeBufferPointer(start: symbol.pointee.data, count: width * width)
        self.size = width
        self.modules = data.map { $0 & 1 == 1 }
        self.version = Int(symbol.pointee.version)
    }

    public subscript(x: Int, y: Int) -> Bool { modules[y * size + x] }

    /// The quiet zone every rendering adds around the symbol, in modules.
    public static let quietZone = 4
}
