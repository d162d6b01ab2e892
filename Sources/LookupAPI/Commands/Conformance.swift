import ArgumentParser
import Display
import Foundation

/// `passby conformance generate`: rewrites the conformance corpus from its fixed test keys.
struct Conformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The conformance corpus of codes.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one JSON file per case (ES256 signature bytes differ from run to run; all else is fixed).")
        @Option(help: "Where to write the cases.") var output: String = "Tests/Conformance"

        func run() throws {
            let directory = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let cases = ConformanceCorpus.generate()
            for (name, testCase) in cases.sorted(by: { $0.key < $1.key }) {
                try (encoder.encode(testCase) + Data("\n".utf8)).write(to: directory.appendingPathComponent("\(name).json"))
            }
            print("wrote \(cases.count) cases to \(directory.path)")
        }
    }
}
