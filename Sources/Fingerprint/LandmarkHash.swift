/// A landmark: a pair of spectral peaks, anchor then target, reduced to a 23-bit hash.
///
/// Bit layout of the hash (most significant first; bits 23-31 are zero):
/// `[anchor bin: 9][bin delta + 128: 8][frame delta: 6]`.
public struct LandmarkHash: Sendable, Hashable {
    public let value: UInt32

    public static let anchorBinBits = 9
    public static let binDeltaBits = 8
    public static let frameDeltaBits = 6

    public init(value: UInt32) { self.value = value }

    /// Packs a pair; returns nil when a field is outside its bit range.
    public init?(anchorBin: Int, binDelta: Int, frameDelta: Int) {
        guard (0..<(1 << Self.anchorBinBits)).contains(anchorBin),
              (-128..<128).contains(binDelta),
              (1..<(1 << Self.frameDeltaBits)).contains(frameDelta) else { return nil }
        value = UInt32(anchorBin) << UInt32(Self.binDeltaBits + Self.frameDeltaBits)
            | UInt32(binDelta + 128) << UInt32(Self.frameDeltaBits)
            | UInt32(frameDelta)
    }

    public var anchorBin: Int { Int(value >> UInt32(Self.binDeltaBits + Self.frameDeltaBits)) & 0x1FF }
    public var binDelta: Int { Int((value >> UInt32(Self.frameDeltaBits)) & 0xFF) - 128 }
    public var frameDelta: Int { Int(value & 0x3F) }
}

/// A hash and where its anchor sits in the recording, in frames of `FingerprintParameters.hop`.
public struct Landmark: Sendable, Hashable {
    public let hash: LandmarkHash
    public let frame: Int32
    public init(hash: LandmarkHash, frame: Int32) {
        self.hash = hash
        self.frame = frame
    }
}
