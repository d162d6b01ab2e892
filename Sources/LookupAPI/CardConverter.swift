import Foundation
import HTTPTypes
import Subprocess
import SystemPackage

/// Turns the card's SVG into PDF or PNG with librsvg's `rsvg-convert` (installed by the bootstrap).
enum CardConverter {
    static func convert(svg: String, to format: String) async throws -> [UInt8] {
        guard let tool = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first(where: FileManager.default.isExecutableFile) else {
            throw Problem(.notAcceptable, "unsupported-format", "rsvg-convert is not installed: only svg is available")
        }
        let result = try await Subprocess.run(
            .path(FilePath(tool)), arguments: ["--format", format, "--dpi-x", "300", "--dpi-y", "300"],
            input: .string(svg), output: .bytes(limit: 10 << 20), error: .discarded)
        guard result.terminationStatus.isSuccess else { throw Problem.internalError }
        return result.standardOutput
    }
}
