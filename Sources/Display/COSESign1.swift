/// A COSE_Sign1 message (RFC 9052, CBOR tag 18) with `alg` and `kid` in the protected header.
public struct COSESign1: Sendable, Equatable {
    public static let tag: UInt64 = 18

    /// The protected header exactly as encoded: the signature covers these bytes.
    public var protectedHeader: [UInt8]
    public var payload: [UInt8]
    public var signature: [UInt8]

    /// The COSE algorithm identifier from the protected header.
    public var algorithm: Int64?
    public var kid: [UInt8]?

    public init(protectedHeader: [UInt8], payload: [UInt8], signature: [UInt8]) {
        self.protectedHeader = protectedHeader
        self.payload = payload
        self.signature = signature
        if let header = try? CBORDecoder.decode(protectedHeader) {
            algorithm = header[.int(1)]?.intValue
            kid = header[.int(4)]?.bytesValue
        }
    }

    /// Signs `payload` with `key`: protected header `{1: alg, 4: kid}`, empty external AAD.
    public static func sign(payload: [UInt8], with key: SigningKey) throws -> COSESign1 {
        let header = CBOR.map([.init(.int(1), .int(key.algorithm.coseIdentifier)), .init(.int(4), .bytes(key.kid))]).encoded()
        let signature = try key.sign(signatureInput(protectedHeader: header, payload: payload))
        return COSESign1(protectedHeader: header, payload: payload, signature: signature)
    }

    /// Sig_structure = ["Signature1", protected, external_aad, payload] (RFC 9052 §4.4).
    public static func signatureInput(protectedHeader: [UInt8], payload: [UInt8]) -> [UInt8] {
        CBOR.array([.text("Signature1"), .bytes(protectedHeader), .bytes([]), .bytes(payload)]).encoded()
    }

    public var signatureInput: [UInt8] { Self.signatureInput(protectedHeader: protectedHeader, payload: payload) }

    /// `18([protected, {}, payload, signature])`.
    public func encoded() -> [UInt8] {
        CBOR.tagged(Self.tag, .array([.bytes(protectedHeader), .map([]), .bytes(payload), .bytes(signature)])).encoded()
    }

    public enum ParseFailure: Error, Equatable, Sendable {
        case cbor(CBORDecoder.Failure)
        case notTag18
        case badStructure
        case badHeader
    }

    /// Parses a tagged COSE_Sign1; the protected header must be a map holding an integer `alg` and a byte-string `kid`.
    public static func parse(_ bytes: [UInt8]) throws(ParseFailure) -> COSESign1 {
        let item: CBOR
        do { item = try CBORDecoder.decode(bytes) } catch { throw .cbor(error) }
        guard case .tagged(let tag, let content) = item, tag == Self.tag else { throw .notTag18 }
        guard case .array(let parts) = content, parts.count == 4,
            let protected = parts[0].bytesValue, case .map = parts[1],
            let payload = parts[2].bytesValue, let signature = parts[3].bytesValue
        else { throw .badStructure }
        let message = COSESign1(protectedHeader: protected, payload: payload, signature: signature)
        guard let header = try? CBORDecoder.decode(protected), case .map = header,
            message.algorithm != nil, message.kid != nil
        else { throw .badHeader }
        return message
    }
}
