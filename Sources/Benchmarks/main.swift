import Display
import Foundation

// `make bench`: the cost of Passby's code path against the raw cost of what it cannot avoid,
// measured in this same run, so that the ratios mean something on a noisy shared machine.

/// The median duration of each of `bodies`, in microseconds, after a warm-up. The bodies take
/// turns, one sample each, so a noisy second slows the baselines as much as the subject and the
/// ratios between them hold (timing one after the other let one ratio read 1.4 and 3.3).
func interleavedMedians(runs: Int = 3000, _ bodies: [() throws -> Void]) throws -> [Double] {
    for _ in 0..<200 { for body in bodies { try body() } }
    var samples = [[Double]](repeating: [], count: bodies.count)
    let clock = ContinuousClock()
    for _ in 0..<runs {
        for (index, body) in bodies.enumerated() {
            let elapsed = try clock.measure(body)
            samples[index].append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
        }
    }
    return samples.map { $0.sorted()[$0.count / 2] }
}

let key = SigningKey.generate(.edDSA)
let verifier = CodeVerifier(keys: [key.kid: key.publicKey])
func claims(now: Int64) -> CodeClaims {
    var generator = SystemRandomNumberGenerator()
    return CodeClaims(
        issuer: "passby", issuedAt: now, expiresAt: now + 10,
        codeID: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }, kind: .display,
        maskedName: "王*英", maskedID: "1101**********002X", ageGroup: "elder", status: "green", statusTime: now - 60)
}
let now = Int64(Date().timeIntervalSince1970)
let sample = try CodeFormat.encode(claims(now: now), with: key)
let signatureInput = try CodeFormat.decode(sample).message.signatureInput
let signature = try key.sign(signatureInput)
let sampleQR = try QRCode(encoding: sample, correction: .m)

// Baselines: one Ed25519 signature over a real Sig_structure, one libqrencode encode of a real
// code. Subjects: claims to "PB1:" string (to SVG); a full verification. Sampled in turns.
let medians = try interleavedMedians([
    { _ = try key.sign(signatureInput) },
    { _ = try QRCode(encoding: sample, correction: .m) },
    { _ = key.publicKey.isValidSignature(signature, for: signatureInput) },
    {
        let code = try CodeFormat.encode(claims(now: now), with: key)
        _ = try Rendering(code: code, format: .svg, correction: .m, label: "health code")
    },
    { _ = try CodeFormat.encode(claims(now: now), with: key) },
    { _ = verifier.verify(sample, now: now) },
    { _ = sampleQR.svgBytes(label: "health code") },
    { _ = sampleQR.png() },
])
let (signCost, qrCost, verifyCost, buildCost, codeOnlyCost, verificationCost) = (
    medians[0], medians[1], medians[2], medians[3], medians[4], medians[5]
)
let (svgCost, pngCost) = (medians[6], medians[7])

func row(_ name: String, _ value: Double, _ note: String = "") {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.1f µs", value) + "  " + note)
}
func ratio(_ name: String, _ value: Double, _ target: String) {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.2f ×", value) + "  " + target)
}

print("Passby display-code benchmark (medians; baselines measured in the same run)")
print("display code: \(sample.count) characters, QR version \(sampleQR.version) at level M")
print(String(repeating: "-", count: 80))
row("Ed25519 sign (baseline)", signCost)
row("libqrencode encode at M (baseline)", qrCost)
row("Ed25519 verify (baseline)", verifyCost)
row("build one code: claims → PB1: string", codeOnlyCost)
row("build one code: claims → PB1: string → SVG", buildCost)
row("verify one code", verificationCost)
row("draw a symbol as SVG", svgCost)
row("draw a symbol as PNG", pngCost)
print(String(repeating: "-", count: 80))
ratio("build / (sign + QR encode)", buildCost / (signCost + qrCost), "target ≤ 1.5")
ratio("PNG / SVG drawing", pngCost / svgCost, "target ≤ 1")
ratio("verify / Ed25519 verify", verificationCost / verifyCost, "")

// For `make bench`'s combined table and bench/results.json.
if CommandLine.arguments.count > 1 {
    let results: [String: Double] = [
        "ed25519_sign_us": signCost, "qr_encode_us": qrCost, "ed25519_verify_us": verifyCost,
        "code_build_svg_us": buildCost, "code_verify_us": verificationCost,
        "code_build_ratio": buildCost / (signCost + qrCost), "code_verify_ratio": verificationCost / verifyCost,
        "svg_draw_us": svgCost, "png_draw_us": pngCost, "png_svg_ratio": pngCost / svgCost,
        "code_length": Double(sample.count), "qr_version": Double(sampleQR.version),
    ]
    let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted])
    try data.write(to: URL(fileURLWithPath: CommandLine.arguments[1]))
}
