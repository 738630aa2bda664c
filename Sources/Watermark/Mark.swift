/// The 128 bits carried in the audio: AES-256 (the mark key) of the block
/// `serial (8 bytes, big-endian) || 0x00 * 8`. Without the key a mark is indistinguishable from
/// random bits; with it, it decrypts back to the serial, and the 64 zero bits authenticate it: a
/// forged or misdecoded mark passes with probability 2^-64 per key tried.
public struct Mark: Sendable, Hashable, CustomStringConvertible {
    public static let bitCount = 128
    /// 16 bytes.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 16 else { throw WatermarkError.malformedPayload("a mark is 16 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == 16 else { throw WatermarkError.malformedPayload("a mark is 32 hex digits") }
        self.bytes = bytes
    }

    /// Bits most significant first: bit i is bit (7 - i % 8) of byte i / 8.
    public var bits: [UInt8] { (0..<128).map { (bytes[$0 / 8] >> (7 - UInt8($0 % 8))) & 1 } }

    public init(bits: [UInt8]) throws {
        guard bits.count == 128 else { throw WatermarkError.malformedPayload("a mark is 128 bits, got \(bits.count)") }
        var bytes = [UInt8](repeating: 0, count: 16)
        for (i, b) in bits.enumerated() where b != 0 { bytes[i / 8] |= 1 << (7 - UInt8(i % 8)) }
        self.bytes = bytes
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// Number of differing bits.
    public func bitErrors(against other: Mark) -> Int {
        zip(bytes, other.bytes).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
    }
}

extension MarkKey {
    /// The mark for `serial`.
    public func mark(serial: UInt64) throws -> Mark {
        var block = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { block[i] = UInt8(truncatingIfNeeded: serial >> (56 - 8 * UInt64(i))) }
        return try Mark(bytes: Crypto.aesBlock(key: rawRepresentation, block: block, encrypt: true))
    }

    /// The serial a mark was made from with this key, or nil when the mark is not one of this key's
    /// (the 64 authentication bits do not decrypt to zero).
    public func serial(of mark: Mark) throws -> UInt64? {
        let block = try Crypto.aesBlock(key: rawRepresentation, block: mark.bytes, encrypt: false)
        guard block[8..<16].allSatisfy({ $0 == 0 }) else { return nil }
        return block[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
