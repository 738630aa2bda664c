/// A landmark: a pair of spectral peaks, anchor then target, reduced to a 20-bit hash.
///
/// Bit layout of the hash (most significant first; bits 20-31 are zero):
/// `[anchor pitch cell: 8][pitch interval cell + 32: 6][frame delta: 6]`. Pitches are on a
/// semitone scale, so a pitch shift or speed change moves every anchor cell by the same amount
/// and leaves intervals alone; the query undoes it by trying several shifts (`Fingerprinter.query`).
public struct LandmarkHash: Sendable, Hashable {
    public let value: UInt32

    public static let anchorCellBits = 8
    public static let intervalCellBits = 6
    public static let frameDeltaBits = 6
    static let intervalBias = 1 << (intervalCellBits - 1)

    public init(value: UInt32) { self.value = value }

    /// Packs a pair; returns nil when a field is outside its bit range.
    public init?(anchorCell: Int, intervalCell: Int, frameDelta: Int) {
        guard (0..<(1 << Self.anchorCellBits)).contains(anchorCell),
              (-Self.intervalBias..<Self.intervalBias).contains(intervalCell),
              (1..<(1 << Self.frameDeltaBits)).contains(frameDelta) else { return nil }
        value = UInt32(anchorCell) << UInt32(Self.intervalCellBits + Self.frameDeltaBits)
            | UInt32(intervalCell + Self.intervalBias) << UInt32(Self.frameDeltaBits)
            | UInt32(frameDelta)
    }

    public var anchorCell: Int { Int(value >> UInt32(Self.intervalCellBits + Self.frameDeltaBits)) & 0xFF }
    public var intervalCell: Int { Int((value >> UInt32(Self.frameDeltaBits)) & 0x3F) - Self.intervalBias }
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
