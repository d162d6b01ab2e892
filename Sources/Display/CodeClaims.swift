/// What kind of signed object a code is.
public enum CodeKind: String, Sendable, Codable, CaseIterable {
    case display, offline, receipt
}

/// The claims of a code (docs/format.md §6): CWT claims plus the private claim -70001.
public struct CodeClaims: Sendable, Equatable {
    public var issuer: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// 16 random bytes that name this code in the ledger.
    public var codeID: [UInt8]
    public var kind: CodeKind
    public var maskedName: String
    public var maskedID: String
    /// `elder` or `child`.
    public var ageGroup: String
    /// Display codes only: `green`, `yellow` or `red`, and when it was last updated (Unix seconds).
    public var status: String?
    public var statusTime: Int64?
    /// Offline codes only: the subject's generation and an 8-byte subject reference.
    public var generation: Int64?
    public var subjectReference: [UInt8]?
    /// Other fields of the private claim, for receipts.
    public var extra: [String: CBOR]

    public static let privateClaimKey: Int64 = -70001
    /// 9999-12-31T23:59:59Z. Claim times outside 1970…9999 are malformed: nothing honest signs
    /// them, and refusing them while decoding keeps every later sum and date conversion in range.
    public static let latestTime: Int64 = 253_402_300_799
    /// The accepted range of `iat`, `exp` and the status time, in Unix seconds.
    public static let timeRange: ClosedRange<Int64> = 0...latestTime

    public init(
        issuer: String, issuedAt: Int64, expiresAt: Int64, codeID: [UInt8], kind: CodeKind, maskedName: String,
        maskedID: String, ageGroup: String, status: String? = nil, statusTime: Int64? = nil, generation: Int64? = nil,
        subjectReference: [UInt8]? = nil, extra: [String: CBOR] = [:]
    ) {
        self.issuer = issuer
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.codeID = codeID
        self.kind = kind
        self.maskedName = maskedName
        self.maskedID = maskedID
        self.ageGroup = ageGroup
        self.status = status
        self.statusTime = statusTime
        self.generation = generation
        self.subjectReference = subjectReference
        self.extra = extra
    }

    /// The CWT map.
    public var cbor: CBOR {
        var claim: [CBOR.Entry] = [
            .init(.text("k"), .text(kind.rawValue)), .init(.text("n"), .text(maskedName)),
            .init(.text("i"), .text(maskedID)), .init(.text("a"), .text(ageGroup)),
        ]
        if let status { claim.append(.init(.text("s"), .text(status))) }
        if let statusTime { claim.append(.init(.text("t"), .int(statusTime))) }
        if let generation { claim.append(.init(.text("g"), .int(generation))) }
        if let subjectReference { claim.append(.init(.text("r"), .bytes(subjectReference))) }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) { claim.append(.init(.text(key), value)) }
        return .map([
            .init(.int(1), .text(issuer)), .init(.int(6), .int(issuedAt)), .init(.int(4), .int(expiresAt)),
            .init(.int(7), .bytes(codeID)), .init(.int(Self.privateClaimKey), .map(claim)),
        ])
    }

    /// Reads the claims back; nil when a required claim is missing or has the wrong type.
    public init?(cbor: CBOR) {
        guard let issuer = cbor[.int(1)]?.textValue, let issuedAt = cbor[.int(6)]?.intValue,
            let expiresAt = cbor[.int(4)]?.intValue, let codeID = cbor[.int(7)]?.bytesValue, codeID.count == 16,
            let claim = cbor[.int(Self.privateClaimKey)], case .map(let entries) = claim,
            let kind = claim[.text("k")]?.textValue.flatMap(CodeKind.init(rawValue:)),
            let maskedName = claim[.text("n")]?.textValue, let maskedID = claim[.text("i")]?.textValue,
            let ageGroup = claim[.text("a")]?.textValue
        else { return nil }
        self.init(
            issuer: issuer, issuedAt: issuedAt, expiresAt: expiresAt, codeID: codeID, kind: kind, maskedName: maskedName,
            maskedID: maskedID, ageGroup: ageGroup)
        status = claim[.text("s")]?.textValue
        statusTime = claim[.text("t")]?.intValue
        generation = claim[.text("g")]?.intValue
        subjectReference = claim[.text("r")]?.bytesValue
        for entry in entries {
            guard let key = entry.key.textValue, !["k", "n", "i", "a", "s", "t", "g", "r"].contains(key) else { continue }
            extra[key] = entry.value
        }
        guard Self.timeRange.contains(issuedAt), Self.timeRange.contains(expiresAt),
            statusTime.map(Self.timeRange.contains) ?? true, (generation ?? 0) >= 0
        else { return nil }
        switch kind {
        case .display: guard status != nil, statusTime != nil else { return nil }
        case .offline: guard generation != nil, subjectReference?.count == 8 else { return nil }
        case .receipt: break
        }
    }
}
