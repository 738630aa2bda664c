import Audio
import Fingerprint

/// Audio in, landmarks out: the one path shared by ingest and match.
struct Analysis: Sendable {
    let parameters = FingerprintParameters.current

    var decoder: AudioDecoder { AudioDecoder(targetSampleRate: parameters.sampleRate) }

    func landmarks(of audio: DecodedAudio) -> [Landmark] {
        Fingerprinter(parameters: parameters).landmarks(samples: audio.samples)
    }
}
