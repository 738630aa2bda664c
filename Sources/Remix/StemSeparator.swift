import Audio
import Foundation
import Spectral

/// Splits a recording into vocals/accompaniment or harmonic/percussive with soft time-frequency
/// masks on one STFT (Hann, about 93 ms, hop a quarter of that), applied to every channel.
///
/// - harmonic/percussive: median-filter HPSS (FitzGerald 2010): a median along time keeps what is
///   steady in pitch, a median along frequency keeps what is broadband and short; Wiener masks
///   H^2 / (H^2 + P^2). This plain form is also the baseline the vocal method is measured against.
/// - vocals: the product of four cues, each a soft mask in [0, 1]: the HPSS harmonic mask (the
///   voice is pitched, drums are not); non-repetition (REPET, Rafii and Pardo 2013: the accompaniment is what repeats with the
///   song's period, modelled as the median of the spectrogram one, two and three periods away);
///   centre (stereo only: a voice is mixed to the centre, so its bins have the same level and phase
///   in both channels); and the voice band (100 Hz to 12 kHz). The accompaniment is the complement,
///   so vocals + accompaniment = input exactly.
public struct StemSeparator: Sendable {
    /// Tunable constants; the defaults are what docs/remix.md measures.
    public struct Parameters: Sendable {
        /// Median kernel along time and along frequency, in seconds and Hz.
        public var harmonicKernelSeconds = 0.4
        public var percussiveKernelHertz = 180.0
        /// Repetitions on each side used for the repeating model.
        public var repetitions = 3
        /// Shortest and longest repetition period searched, in seconds.
        public var periodRange = 1.0...12.0
        /// Exponent on the centre similarity: higher rejects more of what is panned off-centre, but
        /// also more of the voice's own stereo reverb (0.5 measured best in docs/remix.md).
        public var centreSharpness: Float = 0.5
        /// How much the repeating model counts against the voice.
        public var repetitionWeight: Float = 1
        public init() {}
    }

    public var parameters: Parameters

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    /// FFT size for a rate: about 93 ms (4096 at 44.1 and 48 kHz).
    static func frameSize(sampleRate: Int) -> Int {
        var n = 512
        while Double(n) < 0.07 * Double(sampleRate) { n *= 2 }
        return n
    }

    /// The requested stems, each with the input's channels, rate and length.
    public func separate(_ audio: AudioBuffer, stems: Set<Stem>, progress: (Double) -> Void = { _ in }) -> [Stem: AudioBuffer] {
        let size = Self.frameSize(sampleRate: audio.sampleRate)
        let stft = ComplexSTFT(size: size, hop: size / 4)
        let spectra = audio.channels.map { stft.analyze($0) }
        progress(0.15)
        let frames = spectra[0].frameCount, bins = spectra[0].binCount
        let magnitude = Self.midMagnitude(spectra)
        var masks: [Stem: [Float]] = [:]
        let wantsHPSS = stems.contains(.harmonic) || stems.contains(.percussive)
        let wantsVocals = stems.contains(.vocals) || stems.contains(.accompaniment)
        // The vocal mask starts from the harmonic one: drums are not the voice.
        let harmonic = harmonicMask(magnitude, frames: frames, bins: bins, sampleRate: audio.sampleRate, hop: size / 4)
        if wantsHPSS {
            if stems.contains(.harmonic) { masks[.harmonic] = harmonic }
            if stems.contains(.percussive) { masks[.percussive] = harmonic.map { 1 - $0 } }
        }
        progress(0.4)
        if wantsVocals {
            let vocals = vocalMask(magnitude, harmonic: harmonic, spectra: spectra, sampleRate: audio.sampleRate, hop: size / 4, size: size)
            if stems.contains(.vocals) { masks[.vocals] = vocals }
            if stems.contains(.accompaniment) { masks[.accompaniment] = vocals.map { 1 - $0 } }
        }
        progress(0.75)
        var result: [Stem: AudioBuffer] = [:]
        for (stem, mask) in masks {
            let channels = spectra.map { spectrum -> [Float] in
                var masked = spectrum
                masked.values.withUnsafeMutableBufferPointer { v in
                    mask.withUnsafeBufferPointer { m in
                        for i in m.indices { v[2 * i] *= m[i]; v[2 * i + 1] *= m[i] }
                    }
                }
                return stft.synthesize(masked)
            }
            result[stem] = AudioBuffer(channels: channels, sampleRate: audio.sampleRate)
        }
        progress(1)
        return result
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

    /// Plain HPSS: H^2 / (H^2 + P^2) with H, P the medians along time and frequency.
    func harmonicMask(_ magnitude: [Float], frames: Int, bins: Int, sampleRate: Int, hop: Int) -> [Float] {
        let timeKernel = Self.odd(parameters.harmonicKernelSeconds * Double(sampleRate) / Double(hop))
        let binHertz = Double(sampleRate) / Double(2 * (bins - 1))
        let frequencyKernel = Self.odd(parameters.percussiveKernelHertz / binHertz)
        let h = MedianFilter.alongRows(magnitude, rows: frames, columns: bins, kernel: timeKernel)
        let p = MedianFilter.alongColumns(magnitude, rows: frames, columns: bins, kernel: frequencyKernel)
        return zip(h, p).map { h, p in
            let hh = h * h, pp = p * p
            return hh + pp > 1e-20 ? hh / (hh + pp) : 0.5
        }
    }

    func vocalMask(_ magnitude: [Float], harmonic: [Float], spectra: [ComplexSpectrogram], sampleRate: Int, hop: Int, size: Int) -> [Float] {
        let frames = spectra[0].frameCount, bins = spectra[0].binCount
        var mask = harmonic
        // Non-repetition.
        let framesPerSecond = Double(sampleRate) / Double(hop)
        if let period = Self.repetitionPeriod(magnitude, frames: frames, bins: bins,
                                              range: Int(parameters.periodRange.lowerBound * framesPerSecond)...Int(parameters.periodRange.upperBound * framesPerSecond)) {
            let model = repeatingModel(magnitude, frames: frames, bins: bins, period: period)
            let weight = parameters.repetitionWeight
            for i in mask.indices {
                let v = magnitude[i]
                let repeating = v > 1e-12 ? min(model[i], v) / v : 1
                mask[i] *= max(0, 1 - weight * repeating)
            }
        }
        // Centre.
        if spectra.count == 2 {
            let sharpness = parameters.centreSharpness
            spectra[0].values.withUnsafeBufferPointer { l in
                spectra[1].values.withUnsafeBufferPointer { r in
                    for i in mask.indices {
                        let lr = l[2 * i], li = l[2 * i + 1], rr = r[2 * i], ri = r[2 * i + 1]
                        let energy = lr * lr + li * li + rr * rr + ri * ri
                        let cross = 2 * (lr * rr + li * ri) // 2 Re(L conj R): 1 for identical channels, less when panned or out of phase
                        let similarity = energy > 1e-20 ? max(0, cross / energy) : 0
                        mask[i] *= sharpness == 0.5 ? similarity.squareRoot() : pow(similarity, sharpness)
                    }
                }
            }
        }
        // Voice band: a raised-cosine ramp in from 60 to 120 Hz and out from 10 to 14 kHz.
        let binHertz = Double(sampleRate) / Double(size)
        let band = (0..<bins).map { k -> Float in
            let f = Double(k) * binHertz
            if f < 60 || f > 14_000 { return 0 }
            if f < 120 { return Float(0.5 - 0.5 * cos(Double.pi * (f - 60) / 60)) }
            if f > 10_000 { return Float(0.5 + 0.5 * cos(Double.pi * (f - 10_000) / 4000)) }
            return 1
        }
        for t in 0..<frames {
            for k in 0..<bins { mask[t * bins + k] *= band[k] }
        }
        return mask
    }

    /// The lag (in frames, within `range`) at which the power spectrogram best correlates with
    /// itself: REPET's beat spectrum, from band-summed rows autocorrelated through FFTW.
    static func repetitionPeriod(_ magnitude: [Float], frames: Int, bins: Int, range: ClosedRange<Int>) -> Int? {
        let upper = min(range.upperBound, frames / 3)
        guard upper > range.lowerBound else { return nil }
        let bandCount = 64
        let binsPerBand = max(1, bins / bandCount)
        var n = 2
        while n < 2 * frames { n *= 2 }
        let fft = RealFFT.shared(size: n)
        let buffers = RealFFTBuffers(size: n)
        var beat = [Double](repeating: 0, count: frames)
        for band in 0..<bandCount {
            let lo = band * binsPerBand, hi = band == bandCount - 1 ? bins : lo + binsPerBand
            if lo >= bins { break }
            let real = buffers.real
            for i in 0..<n { real[i] = 0 }
            for t in 0..<frames {
                var s: Float = 0
                for k in lo..<hi { let v = magnitude[t * bins + k]; s += v * v }
                real[t] = s
            }
            fft.forward(buffers)
            let spectrum = buffers.spectrum
            for k in 0..<(n / 2 + 1) {
                let p = spectrum[2 * k] * spectrum[2 * k] + spectrum[2 * k + 1] * spectrum[2 * k + 1]
                spectrum[2 * k] = p; spectrum[2 * k + 1] = 0
            }
            fft.inverse(buffers)
            let norm = max(Double(real[0]), 1e-30)
            for lag in 0..<frames { beat[lag] += Double(real[lag]) / norm }
        }
        var best: Int?, bestValue = -Double.infinity
        for lag in range.lowerBound...upper {
            let unbiased = beat[lag] * Double(frames) / Double(frames - lag)
            if unbiased > bestValue { bestValue = unbiased; best = lag }
        }
        return best
    }

    /// Median of each cell with the cells `period`, 2 `period`, ... frames before and after it.
    func repeatingModel(_ magnitude: [Float], frames: Int, bins: Int, period: Int) -> [Float] {
        var model = [Float](repeating: 0, count: frames * bins)
        let reach = parameters.repetitions
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * reach + 1)
        defer { scratch.deallocate() }
        magnitude.withUnsafeBufferPointer { v in
            model.withUnsafeMutableBufferPointer { out in
                for t in 0..<frames {
                    var others: [Int] = []
                    for j in -reach...reach {
                        let u = t + j * period
                        if u >= 0 && u < frames { others.append(u * bins) }
                    }
                    let row = t * bins
                    for k in 0..<bins {
                        for (i, base) in others.enumerated() { scratch[i] = v[base + k] }
                        out[row + k] = MedianFilter.median(scratch, others.count)
                    }
                }
            }
        }
        return model
    }

    static func odd(_ x: Double) -> Int { max(3, Int(x.rounded()) | 1) }
}
