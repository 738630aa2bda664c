import Audio
import Fingerprint

/// Audio in, landmarks out: the one path shared by ingest and match.
public struct Analysis: Sendable {
    public let parameters = FingerprintParameters.current

    public init() {}

    public var decoder: AudioDecoder { AudioDecoder(targetSampleRate: parameters.sampleRate) }

    /// Landmarks of a master, as stored.
    public func landmarks(of audio: DecodedAudio) -> [Landmark] {
        Fingerprinter(parameters: parameters).landmarks(samples: audio.samples)
    }

    /// Landmarks of a query with the probes to look up (several sub-hop shifts, every transform).
    public func query(of audio: DecodedAudio) -> Query {
        Fingerprinter(parameters: parameters).query(samples: audio.samples)
    }
}
