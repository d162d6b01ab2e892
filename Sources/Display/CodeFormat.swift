import CompressNIO
import NIOCore

/// The text form of a code: `"PB1:" + Base45(zlib(COSE_Sign1))`.
public enum CodeFormat {
    public static let prefix = "PB1:"
    /// Longest code text accepted; real codes are a few hundred characters.
    public static let maxTextLength = 4096
    /// Most bytes zlib may inflate to: a guard against compression bombs.
    public static let maxInflatedBytes = 8192
    /// A code is a few hundred bytes: a 2 KiB window and small state compress it as well as the
    /// defaults do, without allocating a quarter of a megabyte per code. Inflating uses the
    /// default window, so codes compressed by other tools with larger windows still decode.
    static let compression = CompressionAlgorithm.zlib(configuration: .init(windowSize: 10, memoryLevel: 2))

    /// Why a text is not a well-formed code. All of these are the verdict `malformed`.
    public enum DecodeFailure: Error, Equatable, Sendable {
        case tooLarge
        case wrongPrefix
        case badBase45
        case badZlib
        case cose(COSESign1.ParseFailure)
        case badClaims
    }

    /// Encodes and signs claims into a code.
    public static func encode(_ claims: CodeClaims, with key: SigningKey) throws -> String {
        let message = try COSESign1.sign(payload: claims.cbor.encoded(), with: key)
        return pack(message.encoded())
    }

    /// Compresses and Base45-encodes a COSE message.
    public static func pack(_ cose: [UInt8]) -> String {
        var input = ByteBuffer(bytes: cose)
        // Compression of a buffer held in memory cannot fail.
        let compressed = (try? input.compress(with: compression)) ?? ByteBuffer()
        return prefix + Base45.encode(Array(buffer: compressed))
    }

    /// Undoes `pack`: prefix, Base45, zlib. Returns the COSE bytes.
    public static func unpack(_ text: String) throws(DecodeFailure) -> [UInt8] {
        guard text.utf8.count <= maxTextLength else { throw .tooLarge }
        guard text.hasPrefix(prefix) else { throw .wrongPrefix }
        let compressed: [UInt8]
        do { compressed = try Base45.decode(text.dropFirst(prefix.count)) } catch { throw .badBase45 }
        var buffer = ByteBuffer(bytes: compressed)
        let inflated: ByteBuffer
        do {
            inflated = try buffer.decompress(with: .zlib(), maxSize: maxInflatedBytes)
        } catch {
            throw .badZlib
        }
        // Bytes after the end of the zlib stream are not part of any code we make.
        guard buffer.readableBytes == 0 else { throw .badZlib }
        return Array(buffer: inflated)
    }

    /// A code taken apart, its signature not yet checked.
    public struct Decoded: Sendable, Equatable {
        public var message: COSESign1
        public var claims: CodeClaims
    }

    public static func decode(_ text: String) throws(DecodeFailure) -> Decoded {
        let cose = try unpack(text)
        let message: COSESign1
        do { message = try COSESign1.parse(cose) } catch { throw .cose(error) }
        guard let payload = try? CBORDecoder.decode(message.payload), let claims = CodeClaims(cbor: payload) else {
            throw .badClaims
        }
        return Decoded(message: message, claims: claims)
    }
}
