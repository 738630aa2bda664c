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

    /// Landmarks of a query, at several sub-hop shifts.
    public func queryLandmarks(of audio: DecodedAudio) -> [Landmark] {
        Fingerprinter(parameters: parameters).queryLandmarks(samples: audio.samples)
    }
}
