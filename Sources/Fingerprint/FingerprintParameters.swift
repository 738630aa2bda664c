/// Every parameter of the fingerprint, in one place. Changing any of them changes the hashes:
/// bump `version` so stored fingerprints are known to be stale.
public struct FingerprintParameters: Sendable, Equatable {
    /// Stored with each track; a different version means the track must be re-ingested.
    public var version: Int32 = 1
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
    public var fanout = 2
    /// Target zone: 1...63 frames later (up to 2 s), within +-127 bins (about +-1 kHz).
    public var minFrameDelta = 1
    public var maxFrameDelta = 63
    public var maxBinDelta = 127
    /// Queries are analysed at this many sub-hop offsets (see `Fingerprinter.queryLandmarks`).
    public var queryShifts = 4
    /// No-match rule: the best track must gather at least this many hashes agreeing on one
    /// time offset (+-1 frame).
    public var minimumVotes = 8

    public init() {}

    public static let current = FingerprintParameters()

    public var secondsPerFrame: Double { Double(hop) / Double(sampleRate) }
}
