import Foundation

/// Every parameter of the fingerprint, in one place. Changing any of them changes the hashes:
/// bump `version` so stored fingerprints are known to be stale.
public struct FingerprintParameters: Sendable, Equatable {
    /// Stored with each track; a different version means the track must be re-ingested.
    public var version: Int32 = 2
    /// Analysis rate: audio is downmixed and resampled to this before anything else.
    public var sampleRate = 8000
    /// STFT frame and hop in samples (128 ms Hann window, 32 ms hop at 8 kHz).
    public var fftSize = 1024
    public var hop = 256
    /// Band searched for peaks, in FFT bins (7.8 Hz each): about 78 Hz to 3.75 kHz, inside the
    /// telephone band's upper edge and below where lossy codecs start removing content.
    public var minBin = 10
    public var maxBin = 480
    /// A peak is the maximum of its neighbourhood: +-frames in time, +-bins in frequency.
    public var neighbourhoodFrames = 6
    public var neighbourhoodBins = 10
    /// At most this many peaks are kept per second, the most prominent first.
    public var peaksPerSecond = 8
    /// Each anchor peak is paired with up to `fanout` later peaks in its target zone.
    public var fanout = 3
    /// Target zone: 1...63 frames later (up to 2 s), within +-`maxPitchDelta` semitones.
    public var minFrameDelta = 1
    public var maxFrameDelta = 63
    public var maxPitchDelta = 15.5
    /// Peak pitch is measured in semitones above this frequency (see `LandmarkHash`): about
    /// 62.6 Hz, chosen so that in-tune notes (A = 440 Hz) lie in the middle of their half-semitone
    /// anchor cells, as far as can be from the cell edges where small pitch errors change a hash.
    public var pitchReference = 440 * pow(2, -33.75 / 12)
    /// Quantisation of the anchor's pitch and of the pitch interval in a hash, in semitones.
    public var anchorPitchStep = 0.5
    public var pitchDeltaStep = 0.5
    /// Transforms a query is looked up under: pitch shifts (semitones added to the query's
    /// pitches) and time scales (master time per query time). Together they cover speed changes
    /// of +-6 %, tempo changes of +-6 % and pitch shifts of +-1.25 semitones.
    public var pitchShifts: [Double] = stride(from: -1.25, through: 1.2501, by: 0.25).map { $0 }
    public var timeScales: [Double] = stride(from: 0.94, through: 1.0601, by: 0.02).map { $0 }
    /// Queries are analysed at this many sub-hop offsets (see `Fingerprinter.query`).
    public var queryShifts = 2
    /// No-match rule, floor: the best alignment must gather at least this many hashes.
    public var minimumVotes = 6
    /// No-match rule, statistics: the chance of the best alignment's votes arising by chance
    /// anywhere in the catalog must be at most this (see `Matcher`).
    public var falseMatchProbability = 1e-4
    /// How much more often than independent chance hits pile up on one alignment: music repeats
    /// itself (the same drum sounds, intervals and rhythms recur across tracks), and one peak
    /// coincidence yields several correlated landmark matches. Measured on never-ingested music
    /// (docs/fingerprint.md); the chance model's expected count is multiplied by it.
    public var chanceDispersion = 20.0
    /// No-match rule, coverage: the agreeing landmarks of a match must span at least this share of
    /// the query (or `coverageSeconds`, whichever is shorter). A whole recording agrees all along;
    /// a drum loop or a fill shared with another recording agrees for a second or two.
    public var minimumCoverage = 0.5
    public var coverageSeconds = 5.0

    public init() {}

    public static let current = FingerprintParameters()

    public var secondsPerFrame: Double { Double(hop) / Double(sampleRate) }
    public var hertzPerBin: Double { Double(sampleRate) / Double(fftSize) }

    /// Semitones above `pitchReference` of a (fractional) FFT bin.
    public func pitch(ofBin bin: Double) -> Double { 12 * log2(max(bin, 1) * hertzPerBin / pitchReference) }
}
