/// Whether a host names this machine: `localhost`, `::1`, or 127.0.0.0/8 with each octet written
/// plainly (the C resolver reads "0127" as octal, another address). One rule for every place that
/// relaxes something for loopback: database TLS, the demo, plain-HTTP identity providers, `/metrics`.
public func isLoopback(_ host: String) -> Bool {
    let host = host.lowercased()
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let mapped = host.hasPrefix("::ffff:") ? String(host.dropFirst("::ffff:".count)) : host
    let parts = mapped.split(separator: ".", omittingEmptySubsequences: false)
    let octets = parts.map { part in UInt8(part).flatMap { String($0) == part ? $0 : nil } }
    return octets.count == 4 && octets.allSatisfy { $0 != nil } && octets[0] == 127
}
