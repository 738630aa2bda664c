/// Mono audio at the analysis rate, with what the source was before conversion.
public struct DecodedAudio: Sendable {
    /// Mono samples in [-1, 1] at `sampleRate`.
    public var samples: [Float]
    public var sampleRate: Int
    /// The source's own rate and channel count, and its duration in seconds.
    public var sourceSampleRate: Int
    public var sourceChannels: Int
    public var sourceDuration: Double

    public init(samples: [Float], sampleRate: Int, sourceSampleRate: Int, sourceChannels: Int, sourceDuration: Double) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceSampleRate = sourceSampleRate
        self.sourceChannels = sourceChannels
        self.sourceDuration = sourceDuration
    }

    public var duration: Double { Double(samples.count) / Double(sampleRate) }
}

/// How raw PCM handed over without a container is laid out (signed 16-bit little-endian).
public struct RawPCMFormat: Sendable, Equatable {
    public var sampleRate: Int
    public var channels: Int
    public init(sampleRate: Int, channels: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
    }
}
