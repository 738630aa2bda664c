import Audio
import Foundation
import Spectral

/// A steady beat: one beat every `period` seconds, the first at `phase` seconds (0 ≤ phase < period).
public struct BeatGrid: Sendable, Equatable, Codable {
    public var period: Double
    public var phase: Double

    public init(period: Double, phase: Double) {
        self.period = period
        self.phase = phase
    }

    public var beatsPerMinute: Double { 60 / period }

    /// The last beat at or before `time` (the recording's start when there is none).
    public func beat(atOrBefore time: Double) -> Double {
        let k = ((time - phase) / period).rounded(.down)
        return max(0, phase + k * period)
    }

    /// The first beat at or after `time`.
    public func beat(atOrAfter time: Double) -> Double {
        phase + max(0, ((time - phase) / period).rounded(.up)) * period
    }
}

/// A key as a tonic pitch class (0 = C) and a mode.
public struct MusicalKey: Sendable, Equatable, Codable, CustomStringConvertible {
    public var tonic: Int
    public var minor: Bool

    public init(tonic: Int, minor: Bool) {
        self.tonic = ((tonic % 12) + 12) % 12
        self.minor = minor
    }

    static let names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    public var description: String { Self.names[tonic] + (minor ? " minor" : " major") }

    /// The same key, its relative (A minor for C major), or a neighbour a fifth away in the same
    /// mode: the keys a listener hears as following on without a jolt.
    public func isCompatible(with other: MusicalKey) -> Bool {
        if minor == other.minor { return [0, 5, 7].contains((other.tonic - tonic + 12) % 12) }
        let relativeMajor = minor ? (tonic + 3) % 12 : (other.tonic + 3) % 12
        return relativeMajor == (minor ? other.tonic : tonic)
    }
}

/// Coarse musical descriptors measured from audio: the beat grid (onset-strength autocorrelation),
/// the key (chroma against the Krumhansl-Kessler key profiles) and a loudness contour. None of them
/// keeps a melody, a timbre or any sample of the audio.
public enum MusicAnalysis {
    /// Onset frames: about 46 ms (2048 points at 44.1 kHz, 512 at 8 kHz), a quarter of that apart.
    static func onsetFrameSize(sampleRate: Int) -> Int {
        var size = 256
        while size < Int(0.046 * Double(sampleRate)) { size *= 2 }
        return size
    }

    /// Mono mix of every channel.
    static func mono(_ audio: AudioBuffer, frames range: Range<Int>? = nil) -> [Float] {
        let range = range ?? 0..<audio.frameCount
        var out = [Float](repeating: 0, count: range.count)
        let scale = 1 / Float(max(audio.channelCount, 1))
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                for i in out.indices { out[i] += scale * x[range.lowerBound + i] }
            }
        }
        return out
    }

    /// Half-wave rectified rise of log magnitude, summed over bins up to 8 kHz, per hop, with its
    /// one-second moving average taken out.
    static func onsetStrength(_ samples: [Float], sampleRate: Int) -> [Float] {
        let size = onsetFrameSize(sampleRate: sampleRate), hop = size / 4
        let spectrogram = STFT(size: size, hop: hop).powerSpectrogram(samples, sampleRate: sampleRate)
        let bins = min(spectrogram.binCount, Int(8000 * Double(size) / Double(sampleRate)))
        guard spectrogram.frameCount > 1 else { return [] }
        var previous = [Float](repeating: 0, count: bins), current = previous
        var envelope = [Float](repeating: 0, count: spectrogram.frameCount)
        for f in 0..<spectrogram.frameCount {
            var rise: Float = 0
            for b in 1..<bins {
                current[b] = log1pf(1e4 * spectrogram[f, b].squareRoot())
                if f > 0 { rise += max(0, current[b] - previous[b]) }
            }
            envelope[f] = rise
            swap(&previous, &current)
        }
        let radius = max(1, sampleRate / hop / 2)
        var prefix = [Double](repeating: 0, count: envelope.count + 1)
        for i in envelope.indices { prefix[i + 1] = prefix[i] + Double(envelope[i]) }
        return envelope.indices.map { i in
            let lo = max(0, i - radius), hi = min(envelope.count, i + radius + 1)
            return max(0, envelope[i] - Float((prefix[hi] - prefix[lo]) / Double(hi - lo)))
        }
    }

    /// The beat grid of a whole recording: the autocorrelation lag of the onset strength between
    /// 60 and 200 BPM, weighted toward 120 BPM by a log-normal prior one octave wide, then the
    /// phase whose beats collect the most onset strength. Nil when there is no steady pulse.
    public static func beatGrid(_ audio: AudioBuffer) -> BeatGrid? {
        beatGrid(mono: mono(audio), sampleRate: audio.sampleRate)
    }

    /// The beat grid of a mono signal at any rate (the daemon's 8 kHz analysis audio is enough).
    public static func beatGrid(mono samples: [Float], sampleRate: Int) -> BeatGrid? {
        let envelope = onsetStrength(samples, sampleRate: sampleRate)
        let hopSeconds = Double(onsetFrameSize(sampleRate: sampleRate) / 4) / Double(sampleRate)
        let minLag = Int((60 / 200 / hopSeconds).rounded(.down)), maxLag = Int((60 / 60 / hopSeconds).rounded(.up))
        guard envelope.count > 2 * maxLag else { return nil }
        let mean = envelope.reduce(0, +) / Float(envelope.count)
        let centred = envelope.map { $0 - mean }
        func correlation(_ lag: Int) -> Double {
            var sum: Float = 0
            centred.withUnsafeBufferPointer { x in
                for i in 0..<(x.count - lag) { sum += x[i] * x[i + lag] }
            }
            return Double(sum) / Double(centred.count - lag)
        }
        let scores = (minLag - 1...maxLag + 1).map(correlation)
        var best = -1, bestScore = 0.0
        for lag in minLag...maxLag {
            let bpm = 60 / (Double(lag) * hopSeconds)
            let prior = exp(-0.5 * pow(log2(bpm / 120), 2))
            let score = scores[lag - minLag + 1] * prior
            if score > bestScore { best = lag; bestScore = score }
        }
        guard best > 0 else { return nil }
        // Parabolic refinement of the peak to a fractional lag.
        let (a, b, c) = (scores[best - minLag], scores[best - minLag + 1], scores[best - minLag + 2])
        let denominator = a - 2 * b + c
        let lag = Double(best) + (denominator < 0 ? 0.5 * (a - c) / denominator : 0)
        let period = lag * hopSeconds
        let bestPhase = strongestPhase(envelope, lag: lag)
        let phase = phaseSeconds(bestPhase, hopSeconds: hopSeconds, period: period, sampleRate: sampleRate)
        return BeatGrid(period: period, phase: phase)
    }

    /// The phase, in hops and in quarter-hop steps, whose beats every `lag` hops collect the most onset strength.
    static func strongestPhase(_ envelope: [Float], lag: Double) -> Double {
        var bestPhase = 0.0, bestSum = -Float.infinity
        for step in 0..<max(1, Int(lag * 4)) {
            let phase = Double(step) / 4
            var sum: Float = 0, k = 0.0
            while true {
                let frame = Int((phase + k * lag).rounded())
                if frame >= envelope.count { break }
                sum += envelope[frame]
                k += 1
            }
            if sum > bestSum { bestSum = sum; bestPhase = phase }
        }
        return bestPhase
    }

    /// The phase (seconds, 0 ≤ phase < period) of the beats of a known period in `audio`.
    public static func beatPhase(_ audio: AudioBuffer, period: Double) -> Double? {
        let envelope = onsetStrength(mono(audio), sampleRate: audio.sampleRate)
        let hop = onsetFrameSize(sampleRate: audio.sampleRate) / 4
        let hopSeconds = Double(hop) / Double(audio.sampleRate)
        guard envelope.count * hop > Int(2 * period * Double(audio.sampleRate)) else { return nil }
        return phaseSeconds(strongestPhase(envelope, lag: period / hopSeconds), hopSeconds: hopSeconds, period: period, sampleRate: audio.sampleRate)
    }

    /// A phase in hops as seconds within one period; onset frames are centred half a window after their start.
    static func phaseSeconds(_ hops: Double, hopSeconds: Double, period: Double, sampleRate: Int) -> Double {
        let centre = Double(onsetFrameSize(sampleRate: sampleRate) / 2) / Double(sampleRate)
        let phase = (hops * hopSeconds + centre).truncatingRemainder(dividingBy: period)
        return phase < 0 ? phase + period : phase
    }

    static let majorProfile: [Double] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
    static let minorProfile: [Double] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]

    /// Magnitude per pitch class (0 = C) between 100 and 800 Hz: the range of chord tones, and
    /// below the fifth harmonic of most of them, which would otherwise pull every key toward major.
    static func chroma(_ samples: [Float], sampleRate: Int) -> [Double] {
        let size = 8192
        let spectrogram = STFT(size: size, hop: size / 2).powerSpectrogram(samples, sampleRate: sampleRate)
        let binHz = Double(sampleRate) / Double(size)
        var chroma = [Double](repeating: 0, count: 12)
        let lowBin = Int(100 / binHz), highBin = min(spectrogram.binCount - 1, Int(800 / binHz))
        guard lowBin < highBin else { return chroma }
        let pitchClass = (lowBin...highBin).map { bin in
            ((Int((12 * log2(Double(bin) * binHz / 261.6256)).rounded()) % 12) + 12) % 12
        }
        for f in 0..<spectrogram.frameCount {
            for (i, bin) in (lowBin...highBin).enumerated() {
                chroma[pitchClass[i]] += Double(spectrogram[f, bin].squareRoot())
            }
        }
        return chroma
    }

    /// The key whose profile correlates best with the chroma; nil for silence.
    public static func key(_ audio: AudioBuffer) -> MusicalKey? {
        let chroma = chroma(mono(audio), sampleRate: audio.sampleRate)
        guard chroma.reduce(0, +) > 0 else { return nil }
        func pearson(_ x: [Double], _ y: [Double]) -> Double {
            let mx = x.reduce(0, +) / 12, my = y.reduce(0, +) / 12
            var sxy = 0.0, sxx = 0.0, syy = 0.0
            for i in 0..<12 { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
            return sxy / max((sxx * syy).squareRoot(), 1e-12)
        }
        var best = MusicalKey(tonic: 0, minor: false), bestScore = -Double.infinity
        for minor in [false, true] {
            for tonic in 0..<12 {
                let profile = minor ? minorProfile : majorProfile
                let rotated = (0..<12).map { profile[(($0 - tonic) % 12 + 12) % 12] }
                let score = pearson(chroma, rotated)
                if score > bestScore { bestScore = score; best = MusicalKey(tonic: tonic, minor: minor) }
            }
        }
        return best
    }
}
