/// The ways a code is shown: an SVG (default), a PNG, or text for terminals.
public enum RenderingFormat: String, Sendable, CaseIterable, Codable {
    case svg, png, text

    public var contentType: String {
        switch self {
        case .svg: "image/svg+xml"
        case .png: "image/png"
        case .text: "text/plain; charset=utf-8"
        }
    }

    /// The format an `Accept` media type asks for, if any.
    public init?(mediaType: String) {
        switch mediaType.lowercased() {
        case "image/svg+xml": self = .svg
        case "image/png": self = .png
        case "text/plain": self = .text
        default: return nil
        }
    }
}

/// A code drawn as a QR symbol in one format.
public struct Rendering: Sendable {
    public let format: RenderingFormat
    public let bytes: [UInt8]
    public let qrVersion: Int

    /// Draws `code`; `label` is what screen readers say for the SVG.
    public init(code: String, format: RenderingFormat, correction: QRCode.Correction, label: String) throws {
        let qr = try QRCode(encoding: code, correction: correction)
        self.format = format
        self.qrVersion = qr.version
        switch format {
        case .svg: bytes = qr.svgBytes(label: label)
        case .png: bytes = qr.png()
        case .text: bytes = Array(qr.text().utf8)
        }
    }
}
