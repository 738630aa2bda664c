import Audio
import Foundation

/// Deterministic pseudo-random numbers (SplitMix64), so generated audio is the same every run.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Test signals made on the spot: tones, and music-like tracks of notes with harmonics, chords
/// and drum hits, different for every seed.
public enum GeneratedMusic {
    public static func tone(frequency: Double, seconds: Double, sampleRate: Int, amplitude: Float = 0.5) -> [Float] {
        (0..<Int(seconds * Double(sampleRate))).map { i in
            amplitude * Float(sin(2 * Double.pi * frequency * Double(i) / Double(sampleRate)))
        }
    }

    /// A mono track: a melody over sustained two-note chords, with noise-burst drums on a beat.
    /// Pitches are drawn from a continuous range, so two seeds share no scale.
    public static func track(seed: UInt64, seconds: Double, sampleRate: Int = 22050) -> [Float] {
        var rng = SeededRandom(seed: seed)
        let count = Int(seconds * Double(sampleRate))
        var out = [Float](repeating: 0, count: count)
        let beat = Double.random(in: 0.35...0.6, using: &rng)

        func addNote(start: Double, length: Double, frequency: Double, gain: Float, harmonics: Int) {
            let s = Int(start * Double(sampleRate)), n = Int(length * Double(sampleRate))
            guard s < count else { return }
            for i in 0..<min(n, count - s) {
                let t = Double(i) / Double(sampleRate)
                let envelope = Float(min(1, t / 0.01) * exp(-2.5 * t / length))
                var v = 0.0
                for h in 1...harmonics { v += sin(2 * Double.pi * frequency * Double(h) * t) / Double(h * h) }
                out[s + i] += gain * envelope * Float(v)
            }
        }

        var t = 0.0
        while t < seconds { // melody
            let length = beat * [0.5, 1, 1, 1.5, 2].randomElement(using: &rng)!
            addNote(start: t, length: length, frequency: Double.random(in: 220...1400, using: &rng), gain: 0.3, harmonics: 4)
            t += length
        }
        t = 0
        while t < seconds { // chords
            let length = beat * 4
            let root = Double.random(in: 110...330, using: &rng)
            addNote(start: t, length: length, frequency: root, gain: 0.18, harmonics: 3)
            addNote(start: t, length: length, frequency: root * Double.random(in: 1.2...1.6, using: &rng), gain: 0.15, harmonics: 3)
            t += length
        }
        t = 0
        var noise = SeededRandom(seed: seed ^ 0xD5)
        while t < seconds { // drums: short decaying noise bursts
            let s = Int(t * Double(sampleRate))
            for i in 0..<min(Int(0.08 * Double(sampleRate)), max(count - s, 0)) {
                let decay = Float(exp(-Double(i) / (0.015 * Double(sampleRate))))
                out[s + i] += 0.25 * decay * Float(Double.random(in: -1...1, using: &noise))
            }
            t += beat
        }
        let peak = out.map(abs).max() ?? 1
        return out.map { $0 / max(peak, 1e-6) * 0.8 }
    }

    /// `seconds` of `samples` starting at `start` seconds.
    public static func excerpt(_ samples: [Float], sampleRate: Int, start: Double, seconds: Double) -> [Float] {
        let s = Int(start * Double(sampleRate)), n = Int(seconds * Double(sampleRate))
        return Array(samples[s..<min(s + n, samples.count)])
    }

    /// Adds white noise at `snr` dB relative to the signal's RMS.
    public static func withNoise(_ samples: [Float], snr: Double, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        let rms = sqrt(samples.reduce(0) { $0 + Double($1 * $1) } / Double(max(samples.count, 1)))
        let noiseRMS = rms / pow(10, snr / 20)
        let scale = noiseRMS * sqrt(3) // uniform noise in [-a, a] has RMS a/sqrt(3)
        return samples.map { $0 + Float(Double.random(in: -scale...scale, using: &rng)) }
    }
}

extension GeneratedMusic {
    /// Stereo "music" for the watermark tests: a chord progression of decaying harmonic notes
    /// and a bass note panned across, hi-hat noise bursts every half beat and a little hiss; the
    /// progression is transposed by `seed`. Dense in 500 Hz - 6 kHz, where marks live.
    public static func stereoChords(seed: UInt64, seconds: Double, sampleRate: Int = 44_100) -> AudioBuffer {
        let n = Int(seconds * Double(sampleRate)), rate = Double(sampleRate)
        var left = [Float](repeating: 0, count: n), right = [Float](repeating: 0, count: n)
        var random = SeededRandom(seed: seed)
        let transpose = Double(seed % 7)
        let chords: [[Double]] = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [-3, 0, 4]]
        let beat = 0.5
        var t0 = 0.0, index = 0
        while t0 < seconds {
            let chord = chords[index % chords.count]
            let start = Int(t0 * rate), end = min(n, Int((t0 + 4 * beat) * rate))
            for (v, semitone) in (chord + [chord[0] - 24]).enumerated() {
                let f = 261.63 * pow(2, (semitone + transpose) / 12)
                let pan = Float(v) / 4
                for i in start..<end {
                    let t = Double(i - start) / rate
                    var s = 0.0
                    for h in 1...6 { s += sin(2 * .pi * f * Double(h) * t) / Double(h * h) }
                    let value = Float(exp(-1.5 * t) * 0.12 * s)
                    left[i] += value * (1 - pan)
                    right[i] += value * pan
                }
            }
            for b in 0..<8 {
                let hs = start + Int(Double(b) * beat / 2 * rate)
                guard hs < n else { break }
                for i in hs..<min(n, hs + Int(0.04 * rate)) {
                    let noise = Float(Double.random(in: -0.1...0.1, using: &random) * exp(-Double(i - hs) / (0.01 * rate)))
                    left[i] += noise
                    right[i] += noise * 0.8
                }
            }
            t0 += 4 * beat
            index += 1
        }
        for i in 0..<n {
            let hiss = Float(Double.random(in: -0.001...0.001, using: &random))
            left[i] += hiss
            right[i] += hiss
        }
        return AudioBuffer(channels: [left, right], sampleRate: sampleRate)
    }

    /// `stereoChords` as a 16-bit WAV file.
    public static func stereoWAV(seed: UInt64, seconds: Double, sampleRate: Int = 44_100) throws -> [UInt8] {
        try AudioWriter.encode(stereoChords(seed: seed, seconds: seconds, sampleRate: sampleRate), as: AudioFileFormat(.wav))
    }
}
