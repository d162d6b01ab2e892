import Display
import Foundation
import Testing

/// Runs every case of `Tests/Conformance/` through `CodeVerifier`.
@Suite("Conformance corpus", .timeLimit(.minutes(5)))
struct ConformanceTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Conformance")

    static func stored() throws -> [String: ConformanceCase] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        var cases: [String: ConformanceCase] = [:]
        for name in names {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            cases[String(name.dropLast(5))] = try JSONDecoder().decode(ConformanceCase.self, from: data)
        }
        return cases
    }

    static func outcome(_ testCase: ConformanceCase) -> ConformanceCase.Expected {
        let verifier = CodeVerifier(keys: testCase.keys.verificationKeys, skew: testCase.skew, acceptedKinds: Set(CodeKind.allCases))
        let result = verifier.verify(testCase.code, now: testCase.clock)
        let signatureChecked: Set<Verdict> = [.valid, .expired, .notYetValid, .wrongKind, .replaced]
        return .init(
            decode: result.verdict != .malformed, verify: signatureChecked.contains(result.verdict), valid: result.verdict == .valid,
            kind: result.claims?.kind.rawValue, reason: result.verdict == .valid ? nil : result.verdict.rawValue)
    }

    @Test("the corpus has at least 25 cases, positive and negative")
    func size() throws {
        let cases = try Self.stored()
        #expect(cases.count >= 25)
        #expect(cases.values.contains { $0.expected.valid })
        let reasons = Set(cases.values.compactMap(\.expected.reason))
        #expect(reasons.isSuperset(of: ["malformed", "unknown-key", "bad-signature", "expired", "not-yet-valid"]))
    }

    @Test("every stored case gives the result it expects")
    func storedCases() throws {
        for (name, testCase) in try Self.stored().sorted(by: { $0.key < $1.key }) {
            #expect(Self.outcome(testCase) == testCase.expected, "\(name): \(testCase.description)")
        }
    }

    @Test("regenerating gives the same cases; everything but ES256 signatures byte for byte")
    func regeneration() throws {
        let stored = try Self.stored()
        let fresh = ConformanceCorpus.generate()
        #expect(Set(fresh.keys) == Set(stored.keys))
        for (name, testCase) in fresh {
            guard let old = stored[name] else { continue }
            #expect(testCase.description == old.description && testCase.keys == old.keys && testCase.clock == old.clock, "\(name)")
            #expect(testCase.expected == old.expected, "\(name)")
            #expect(Self.outcome(testCase) == testCase.expected, "\(name) regenerated")
            let es256 = (try? CodeFormat.decode(testCase.code))?.message.algorithm == -7
            if !es256 { #expect(testCase.code == old.code, "\(name) changed") }
        }
    }
}
