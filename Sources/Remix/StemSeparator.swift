import Audio
import Foundation
import Spectral

/// Splits a recording into vocals/accompaniment or harmonic/percussive with soft time-frequency
/// masks computed from the channels' mean and applied to every channel.
///
/// Both are median-filter HPSS (FitzGerald 2010): a median along time keeps what is steady in pitch,
/// a median along frequency keeps what is broadband and short, and the harmonic mask is
/// H^p / (H^p + P^p). They differ in scale:
/// - harmonic/percussive: the plain form, on frames of about 93 ms (medians over 0.4 s and 180 Hz,
///   p = 2). This is also the baseline the vocal method is measured against.
/// - vocals: frames of about 23 ms (medians over 0.1 s and 250 Hz, p = 1.5), times the voice band
///   (raised-cosine edges at 110-220 Hz and 10-14 kHz). At that time resolution a sung line with
///   vibrato still reads as pitched while the drums do not, and the band removes the bass, which is
///   as steady as any voice. docs/remix.md has the measurements behind each choice, and the cues
///   (repetition, centre, two-stage HPSS) that measured worse.
/// The second stem of a family is the complement, so vocals + accompaniment (and harmonic +
/// percussive) add up to the input to rounding.
public struct StemSeparator: Sendable {
    /// One HPSS scale: frame length, median lengths and mask exponent.
    public struct Scale: Sendable {
        /// The frame is the smallest power of two at least this long.
        public var frameSeconds: Double
        public var timeKernelSeconds: Double
        public var frequencyKernelHertz: Double
        public var power: Float
    }

    /// Tunable constants; the defaults are what docs/remix.md measures.
    public struct Parameters: Sendable {
        public var harmonicPercussive = Scale(frameSeconds: 0.07, timeKernelSeconds: 0.4, frequencyKernelHertz: 180, power: 2)
        public var vocals = Scale(frameSeconds: 0.02, timeKernelSeconds: 0.1, frequencyKernelHertz: 250, power: 1.5)
        /// Raised-cosine edges of the voice band, in Hz: in over the first range, out over the second.
        public var voiceLowEdge = 110.0...220.0
        public var voiceHighEdge = 10_000.0...14_000.0
        public init() {}
    }

    public var parameters: Parameters

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    /// FFT size for a scale: the smallest power of two of at least `seconds` (4096 for 70 ms and
    /// 1024 for 20 ms at 44.1 and 48 kHz).
    static func frameSize(seconds: Double, sampleRate: Int) -> Int {
        var n = 256
        while Double(n) < seconds * Double(sampleRate) { n *= 2 }
        return n
    }

    /// The requested stems, each with the input's channels, rate and length.
    public func separate(_ audio: AudioBuffer, stems: Set<Stem>, progress: (Double) -> Void = { _ in }) -> [Stem: AudioBuffer] {
        var result: [Stem: AudioBuffer] = [:]
        let families: [(scale: Scale, first: Stem, second: Stem, band: Bool)] = [
            (parameters.harmonicPercussive, .harmonic, .percussive, false),
            (parameters.vocals, .vocals, .accompaniment, true),
        ].filter { stems.contains($0.first) || stems.contains($0.second) }
        for (index, family) in families.enumerated() {
            let parts = separate(audio, family.scale, band: family.band,
                                 wanted: (stems.contains(family.first), stems.contains(family.second))) { fraction in
                progress((Double(index) + fraction) / Double(families.count))
            }
            if let first = parts.first { result[family.first] = first }
            if let second = parts.second { result[family.second] = second }
        }
        progress(1)
        return result
    }

    /// The masked part and its complement at one scale, each only if wanted.
    func separate(_ audio: AudioBuffer, _ scale: Scale, band: Bool, wanted: (Bool, Bool),
                  progress: (Double) -> Void) -> (first: AudioBuffer?, second: AudioBuffer?) {
        let size = Self.frameSize(seconds: scale.frameSeconds, sampleRate: audio.sampleRate)
        let stft = ComplexSTFT(size: size, hop: size / 4)
        let spectra = audio.channels.map { stft.analyze($0) }
        progress(0.3)
        let frames = spectra[0].frameCount, bins = spectra[0].binCount
        var mask = hpssMask(Self.midMagnitude(spectra), frames: frames, bins: bins, scale: scale,
                            sampleRate: audio.sampleRate, hop: size / 4)
        if band {
            let weights = voiceBand(bins: bins, sampleRate: audio.sampleRate, size: size)
            mask.withUnsafeMutableBufferPointer { m in
                for t in 0..<frames {
                    for k in 0..<bins { m[t * bins + k] *= weights[k] }
                }
            }
        }
        progress(0.6)
        func apply(_ mask: [Float]) -> AudioBuffer {
            let channels = spectra.map { spectrum -> [Float] in
                var masked = spectrum
                masked.values.withUnsafeMutableBufferPointer { v in
                    mask.withUnsafeBufferPointer { m in
                        for i in m.indices { v[2 * i] *= m[i]; v[2 * i + 1] *= m[i] }
                    }
                }
                return stft.synthesize(masked)
            }
            return AudioBuffer(channels: channels, sampleRate: audio.sampleRate)
        }
        let first = wanted.0 ? apply(mask) : nil
        let second = wanted.1 ? apply(mask.map { 1 - $0 }) : nil
        progress(1)
        return (first, second)
    }

    /// |mean of the channels| per cell.
    static func midMagnitude(_ spectra: [ComplexSpectrogram]) -> [Float] {
        let cells = spectra[0].frameCount * spectra[0].binCount
        var re = [Float](repeating: 0, count: cells), im = re
        for s in spectra {
            s.values.withUnsafeBufferPointer { v in
                for i in 0..<cells { re[i] += v[2 * i]; im[i] += v[2 * i + 1] }
            }
        }
        let scale = 1 / Float(spectra.count)
        return (0..<cells).map { i in (re[i] * re[i] + im[i] * im[i]).squareRoot() * scale }
    }

    /// H^p / (H^p + P^p) with H, P the medians along time and frequency.
    func hpssMask(_ magnitude: [Float], frames: Int, bins: Int, scale: Scale, sampleRate: Int, hop: Int) -> [Float] {
        let timeKernel = Self.odd(scale.timeKernelSeconds * Double(sampleRate) / Double(hop))
        let binHertz = Double(sampleRate) / Double(2 * (bins - 1))
        let frequencyKernel = Self.odd(scale.frequencyKernelHertz / binHertz)
        let h = MedianFilter.alongRows(magnitude, rows: frames, columns: bins, kernel: timeKernel)
        let p = MedianFilter.alongColumns(magnitude, rows: frames, columns: bins, kernel: frequencyKernel)
        let power = scale.power
        return zip(h, p).map { h, p in
            let hp = power == 2 ? h * h : power == 1.5 ? h * h.squareRoot() : pow(h, power)
            let pp = power == 2 ? p * p : power == 1.5 ? p * p.squareRoot() : pow(p, power)
            return hp + pp > 1e-20 ? hp / (hp + pp) : 0.5
        }
    }

    /// Per-bin weight of the voice band: 0 below the low edge, a raised cosine up through it, 1 in
    /// between, a raised cosine down through the high edge, 0 above.
    func voiceBand(bins: Int, sampleRate: Int, size: Int) -> [Float] {
        let low = parameters.voiceLowEdge, high = parameters.voiceHighEdge
        let binHertz = Double(sampleRate) / Double(size)
        return (0..<bins).map { k -> Float in
            let f = Double(k) * binHertz
            if f < low.lowerBound || f > high.upperBound { return 0 }
            if f < low.upperBound {
                return Float(0.5 - 0.5 * cos(Double.pi * (f - low.lowerBound) / (low.upperBound - low.lowerBound)))
            }
            if f > high.lowerBound {
                return Float(0.5 + 0.5 * cos(Double.pi * (f - high.lowerBound) / (high.upperBound - high.lowerBound)))
            }
            return 1
        }
    }

    static func odd(_ x: Double) -> Int { max(3, Int(x.rounded()) | 1) }
}
