import Audio
import Fingerprint

/// Audio in, landmarks out: the one path shared by ingest and match.
struct Analysis: Sendable {
    let parameters = FingerprintParameters.current

    var decoder: AudioDecoder { AudioDecoder(targetSampleRate: parameters.sampleRate) }

    /// Landmarks of a master, as stored.
    func landmarks(of audio: DecodedAudio) -> [Landmark] {
        Fingerprinter(parameters: parameters).landmarks(samples: audio.samples)
    }

    /// Landmarks of a query, at several sub-hop shifts.
    func queryLandmarks(of audio: DecodedAudio) -> [Landmark] {
        Fingerprinter(parameters: parameters).queryLandmarks(samples: audio.samples)
    }
}
