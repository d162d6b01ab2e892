import Foundation
import HTTPTypes
import Subprocess
import SystemPackage

/// `rsvg-convert` ran but did not produce the card.
struct CardConversionFailed: Error {}

/// Turns the card's SVG into PDF or PNG with librsvg's `rsvg-convert` (installed by the bootstrap).
/// Without the tool only SVG is offered: `Refusal.unsupportedFormat`.
enum CardConverter {
    static func convert(svg: String, to format: String) async throws -> [UInt8] {
        guard let tool = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first(where: FileManager.default.isExecutableFile) else {
            throw Refusal.unsupportedFormat
        }
        let result = try await Subprocess.run(
            .path(FilePath(tool)), arguments: ["--format", format, "--dpi-x", "300", "--dpi-y", "300"],
            // Not the server's environment: it holds secrets (PASSBY_SECRET, database URLs).
            environment: .custom(["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]),
            input: .string(svg), output: .bytes(limit: 10 << 20), error: .discarded)
        guard result.terminationStatus.isSuccess else { throw CardConversionFailed() }
        return result.standardOutput
    }
}
