import Foundation

/// The printable offline-code card: 54 × 86 mm, drawn for 300 dpi (638 × 1016 px), with the QR at
/// level Q, the masked name and ID, the age group, the issue date and the generation.
public enum OfflineCard {
    public static let widthPixels = 638
    public static let heightPixels = 1016

    public static func svg(code: String, claims: CodeClaims, issued: String) throws -> String {
        let qr = try QRCode(encoding: code, correction: .q)
        let modules = qr.size + 2 * QRCode.quietZone
        let qrSize = 590
        let group = claims.ageGroup == "child" ? "儿童 Child" : "长者 Elder"
        let esc = QRCode.escapeXML
        // The QR is nested as its own SVG, scaled to the card; text below it.
        let symbol = qr.svg(label: "Passby offline code").replacingOccurrences(
            of: "width=\"\(modules * 8)\" height=\"\(modules * 8)\"", with: "x=\"24\" y=\"110\" width=\"\(qrSize)\" height=\"\(qrSize)\"")
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="54mm" height="86mm" viewBox="0 0 \(widthPixels) \(heightPixels)" \
            role="img" aria-label="Passby offline code card"><title>Passby offline code card</title>\
            <rect width="\(widthPixels)" height="\(heightPixels)" fill="#fff" stroke="#000" stroke-width="2"/>\
            <text x="319" y="70" font-family="sans-serif" font-size="44" font-weight="bold" text-anchor="middle">离线健康码 Offline code</text>\
            \(symbol)\
            <g font-family="sans-serif" font-size="40" fill="#000">\
            <text x="40" y="770">\(esc(claims.maskedName))  ·  \(esc(group))</text>\
            <text x="40" y="830" font-family="monospace">\(esc(claims.maskedID))</text>\
            <text x="40" y="890" font-size="32">签发 Issued \(esc(issued))</text>\
            <text x="40" y="940" font-size="32">第 \(claims.generation ?? 0) 代 · Generation \(claims.generation ?? 0)</text>\
            </g></svg>
            """
    }
}
