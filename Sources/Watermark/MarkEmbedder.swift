import Audio
import Foundation
import Spectral

/// What embedding did to the audio.
public struct EmbeddingReport: Sendable, Equatable {
    /// Signal-to-watermark ratio over all channels, in dB (energy of the input over energy of the change).
    public var signalToWatermarkDB: Double
    /// Positions carried per block and blocks laid end to end over the track.
    public var blocks: Double
    /// The quantiser step the track was marked with (one of `MarkLayout.steps`).
    public var step: Float = 0
}

/// Embeds a 128-bit mark into audio (any rate at or above 16 kHz, any channel count).
///
/// The mark is written into the STFT magnitudes of the mono mix at 16 kHz (see `MarkLayout`): in
/// every slot, each 2-bin sub-band of 250 Hz - 3.75 kHz is scaled by exp(±δ), a few per cent, so the
/// change is a copy of the host's own spectrum at every cell, as loud as the music there and masked
/// by it (silence stays silent, loud passages carry proportionally more). The change is computed
/// at 16 kHz, resampled to the input rate and added identically to every channel, so a mono
/// downmix keeps it whole. Refinement passes re-analyse the result and correct each position
/// toward its quantiser target, so the detector sees the intended points despite the overlap-add.
public struct WatermarkEmbedder: Sendable {
    /// Largest quantiser step Δ of the projections (natural-log units of the floored log spectrum):
    /// the track is marked with the largest step of `MarkLayout.steps` up to this one that meets
    /// `targetSWR`.
    public var step: Float
    /// Analysis-synthesis passes (1 = no refinement).
    public var passes: Int
    /// Largest energy of the change in any 64 ms slot, in dB under the slot's own energy (the mono
    /// mix at 16 kHz): where reaching a quantiser target would cost more, the slot is marked more
    /// weakly, so no loud moment of the mark stands out of quiet music.
    public var maximumChangeDB: Double = 24
    /// Signal-to-watermark ratio of the whole track, in dB. The step is chosen for it (the largest
    /// step of `MarkLayout.steps` whose first-pass change is `swrMargin` further down, the margin
    /// the refinement passes use up), and the change is scaled down if it still comes out louder.
    public var targetSWR: Double = 30
    static let swrMargin: Double = 3

    public init(step: Float = WatermarkEmbedder.defaultStep, passes: Int = 3) {
        self.step = step
        self.passes = passes
    }

    public static let defaultStep: Float = MarkLayout.steps[MarkLayout.steps.count - 1]

    /// Distortion compensation α (DC-QIM): each projection moves α of the way to its lattice
    /// point, so the same change buys a step 1/α larger. It pays where attacks, not the embedding,
    /// limit the mark: on dense music (mean sensitivity 0.16 and up, α = 0.65); on sparse music
    /// (0.10 and under), where the embedder already misses some targets, α = 1; linear between.
    static func compensation(meanSensitivity: Float) -> Float {
        max(0.65, min(1, 1 - (meanSensitivity - 0.10) / 0.06 * 0.35))
    }

    /// How far refinement may grow a position's gain past its first estimate (times, plus 0.01).
    static let refinementGrowth: Float = 1.5

    /// Largest log gain applied to a sub-band in one slot (about ±25 %).
    static let maxDelta: Float = 0.22

    /// Embeds `mark` into every channel of `audio`.
    public func embed(_ mark: Mark, into audio: AudioBuffer) throws -> (audio: AudioBuffer, report: EmbeddingReport) {
        guard audio.sampleRate >= MarkLayout.sampleRate else {
            throw WatermarkError.payloadFieldOutOfRange("sample rate \(audio.sampleRate) Hz; marks need at least \(MarkLayout.sampleRate) Hz")
        }
        let n = audio.frameCount
        var mono = [Float](repeating: 0, count: n)
        let inverseChannels = 1 / Float(audio.channelCount)
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                mono.withUnsafeMutableBufferPointer { m in for i in 0..<n { m[i] += x[i] * inverseChannels } }
            }
        }
        let internalSignal = try BandResampler.convert(mono, from: audio.sampleRate, to: MarkLayout.sampleRate)
        // The input's energy per channel, in units of the 16 kHz signal's sample energy.
        var inputEnergy = 0.0
        for channel in audio.channels {
            var e: Float = 0
            channel.withUnsafeBufferPointer { x in for i in 0..<n { e += x[i] * x[i] } }
            inputEnergy += Double(e)
        }
        inputEnergy *= Double(MarkLayout.sampleRate) / Double(audio.sampleRate) / Double(audio.channelCount)
        let (change, chosenStep) = embedInternal(mark, signal: internalSignal, signalEnergy: inputEnergy)
        let changeAtRate = try BandResampler.convert(change, from: MarkLayout.sampleRate, to: audio.sampleRate, count: n)
        var output = audio
        var signalEnergy = 0.0, changeEnergy = 0.0
        for c in 0..<audio.channelCount {
            output.channels[c].withUnsafeMutableBufferPointer { y in
                changeAtRate.withUnsafeBufferPointer { d in
                    let count = min(n, d.count)
                    var se: Float = 0, ce: Float = 0
                    for i in 0..<n { se += y[i] * y[i] }
                    for i in 0..<count {
                        y[i] += d[i]
                        ce += d[i] * d[i]
                    }
                    signalEnergy += Double(se)
                    changeEnergy += Double(ce)
                }
            }
        }
        let swr = changeEnergy > 0 ? 10 * log10(signalEnergy / changeEnergy) : .infinity
        let blocks = Double(internalSignal.count) / Double(MarkLayout.slotSamples * MarkLayout.slotsPerBlock)
        return (output, EmbeddingReport(signalToWatermarkDB: swr, blocks: blocks, step: chosenStep))
    }

    /// The change to add to `signal` (mono, 16 kHz) to carry `mark`.
    /// `signalEnergy` (the input's energy per channel, in 16 kHz sample units; nil: the signal's own)
    /// is what the step is chosen against.
    func embedInternal(_ mark: Mark, signal: [Float], signalEnergy: Double? = nil) -> (change: [Float], step: Float) {
        let signalEnergy = signalEnergy ?? signal.reduce(0) { $0 + Double($1 * $1) }
        let layout = MarkLayout.current
        let stft = BandSTFT()
        var frameEnergy: [Float] = []
        let original = stft.analyze(signal, frameEnergy: &frameEnergy)
        let frames = stft.frameCount(signal.count)
        let framesPerSlot = MarkLayout.framesPerSlot, bins = MarkLayout.bandBins
        // Frame t's window centre is at sample 128 t - 128: slot s owns frames 8 s + 1 ... 8 s + 8.
        let slotCount = max(0, (frames - 1) / framesPerSlot)
        let positionBits = layout.positionBits(for: mark)
        let groups = MarkLayout.groups
        var targets = [Float](repeating: 0, count: slotCount * groups)
        var delta = [Float](repeating: 0, count: slotCount * groups)
        var gain = [Float](repeating: 0, count: slotCount * groups)
        let maxDelta = Self.maxDelta
        // Per slot: the energy the change may have (the slot's energy `maximumChangeDB` down) over
        // the energy a unit log gain produces in each group (its band energy times the share of
        // a 2-bin pattern's energy that survives overlap-add, 0.42 measured).
        var allowance = [Float](repeating: .infinity, count: slotCount)
        var groupEnergy = [Float](repeating: 0, count: slotCount * groups)
        let changeRatio = Float(pow(10, -maximumChangeDB / 10))
        original.withUnsafeBufferPointer { v in
            for j in 0..<slotCount {
                var total: Float = 0
                for f in (1 + j * framesPerSlot)..<(1 + (j + 1) * framesPerSlot) {
                    total += frameEnergy[f]
                    let base = f * bins * 2
                    for i in 0..<bins {
                        groupEnergy[j * groups + layout.binGroup[i]] += 0.42 * (v[base + 2 * i] * v[base + 2 * i] + v[base + 2 * i + 1] * v[base + 2 * i + 1])
                    }
                }
                allowance[j] = changeRatio * total
            }
        }

        // Nearest lattice point for the bit of position i: Δ (m + b/2 + dither).
        var compensation: Float = 1
        func quantiserTarget(_ y: Float, position i: Int, step: Float) -> Float {
            let position = ((i / groups) % MarkLayout.slotsPerBlock) * groups + i % groups
            let offset = (Float(positionBits[position]) / 2 + layout.dither[position]) * step
            let point = ((y - offset) / step).rounded() * step + offset
            return y + compensation * (point - y)
        }
        var chosenStep = step
        var skipped = [Bool](repeating: false, count: slotCount * groups)
        var firstDelta = [Float](repeating: 0, count: slotCount * groups)
        var forcedStep: Float?
        var change = [Float](repeating: 0, count: signal.count)
        var current = original
        var pass = 0
        var restarts = 0, wentUp = false
        while pass < max(passes, 1) {
            defer { pass += 1 }
            if pass > 0 {
                let analysed = stft.analyze(change)
                for i in 0..<current.count { current[i] = original[i] + analysed[i] }
            }
            let (sums, sensitivity) = current.withUnsafeBufferPointer { v in
                MarkLayout.frameSums(frameCount: frames, power: { f, p in
                    let base = f * bins * 2
                    for i in 0..<bins { p[i] = v[base + 2 * i] * v[base + 2 * i] + v[base + 2 * i + 1] * v[base + 2 * i + 1] }
                }, layout: layout, sensitivity: pass == 0)
            }
            var y = [Float](repeating: 0, count: slotCount * groups)
            for j in 0..<slotCount {
                for g in 0..<groups {
                    var sum: Float = 0, s: Float = 0
                    for f in (1 + j * framesPerSlot)..<(1 + (j + 1) * framesPerSlot) {
                        sum += sums[f * groups + g]
                        if pass == 0 { s += sensitivity[f * groups + g] }
                    }
                    y[j * groups + g] = sum / Float(framesPerSlot)
                    // Expected movement of y per unit of log gain: the bins' sensitivity times the
                    // share of a 2-bin pattern that survives overlap-add.
                    if pass == 0 { gain[j * groups + g] = max(0.02, 0.7 * s / Float(framesPerSlot)) }
                }
            }
            if pass == 0 {
                compensation = Self.compensation(meanSensitivity: gain.reduce(0, +) / Float(max(1, gain.count)) / 0.7)
                // The track's step: the largest of the ladder (up to `step`) whose change keeps the
                // signal-to-watermark ratio at the target, by the energy model above.
                let total = allowance.reduce(0, +) / changeRatio
                let candidates = MarkLayout.steps.filter { $0 <= step * 1.0001 }
                chosenStep = candidates.first ?? MarkLayout.steps[0]
                for candidate in candidates.reversed() where forcedStep == nil {
                    var cost: Float = 0
                    for i in 0..<(slotCount * groups) {
                        let d = quantiserTarget(y[i], position: i, step: candidate) - y[i]
                        let delta = abs(d / gain[i]) > maxDelta ? 0 : d / gain[i]
                        cost += delta * delta * groupEnergy[i]
                    }
                    if cost <= total * Float(pow(10, -(targetSWR + Self.swrMargin) / 10)) {
                        chosenStep = candidate
                        break
                    }
                }
                if let forcedStep { chosenStep = forcedStep }
                for i in 0..<skipped.count { skipped[i] = false }
                for i in 0..<(slotCount * groups) {
                    targets[i] = quantiserTarget(y[i], position: i, step: chosenStep)
                    // A position the music cannot carry within `maxDelta` is left alone (the detector
                    // weighs it little: its bins barely rise above the floor) rather than spent on.
                    let needed = (targets[i] - y[i]) / gain[i]
                    delta[i] = abs(needed) > maxDelta ? 0 : needed
                    if delta[i] == 0 && needed != 0 { skipped[i] = true }
                }
                firstDelta = delta
            } else {
                for i in 0..<(slotCount * groups) {
                    guard !skipped[i] else { continue }
                    // Refinement may grow a gain only so far past the first estimate: positions that
                    // resist (their change spreads into neighbours) would take energy for little.
                    let limit = min(maxDelta, Self.refinementGrowth * abs(firstDelta[i]) + 0.01)
                    delta[i] = max(-limit, min(limit, delta[i] + (targets[i] - y[i]) / gain[i]))
                }
            }
            for j in 0..<slotCount {
                // Strength follows the music: no slot's change may exceed its allowance.
                var cost: Float = 0
                for g in 0..<groups { cost += delta[j * groups + g] * delta[j * groups + g] * groupEnergy[j * groups + g] }
                if cost > allowance[j] {
                    let scale = (allowance[j] / cost).squareRoot()
                    for g in 0..<groups { delta[j * groups + g] *= scale }
                }
            }
            change = stft.synthesizeChange(of: original, signalLength: signal.count, slotCount: slotCount) { j, gains in
                for i in 0..<bins { gains[i] = expf(layout.binSign[i] * delta[j * groups + layout.binGroup[i]]) - 1 }
            }
            if pass == 0 && (restarts == 0 || (restarts == 1 && wentUp)) {
                // Check the energy model against the change itself: move along the ladder by the
                // measured surplus or shortfall (3 dB per rung, the change scales with the step),
                // and start over once if the step changes.
                let changeEnergy = change.reduce(0) { $0 + Double($1 * $1) }
                let swr = changeEnergy > 0 ? 10 * log10(signalEnergy / changeEnergy) : 99
                let surplus = swr - targetSWR - Self.swrMargin
                // A second start only to go up (never back and forth).
                let rungs = restarts == 0 ? Int((surplus / 3).rounded(.down)) : max(0, Int((surplus / 3).rounded(.down)))
                let ladder = MarkLayout.steps.filter { $0 <= step * 1.0001 }
                if let index = ladder.firstIndex(of: chosenStep), rungs != 0 {
                    let newIndex = max(0, min(ladder.count - 1, index + rungs))
                    if newIndex != index {
                        forcedStep = ladder[newIndex]
                        restarts += 1
                        wentUp = newIndex > index
                        pass = -1
                    }
                }
            }
        }
        // The guarantee: whatever the model and the refinement did, the change stays `targetSWR` down.
        let changeEnergy = change.reduce(0) { $0 + Double($1 * $1) }
        let limit = signalEnergy * pow(10, -targetSWR / 10)
        if changeEnergy > limit {
            let scale = Float((limit / changeEnergy).squareRoot())
            for i in 0..<change.count { change[i] *= scale }
        }
        return (change, chosenStep)
    }
}

/// STFT analysis and resynthesis restricted to the mark band (bins 8 ..< 120 of a 512-point
/// transform, hop 128, periodic Hann at both ends, frame f starting at sample 128 f - 384, as
/// `Spectral.ComplexSTFT` frames it): the embedder keeps only the band and synthesises only the change.
struct BandSTFT {
    let size = MarkLayout.fftSize, hop = MarkLayout.hop
    let window = Window.hann(MarkLayout.fftSize)
    let fft = RealFFT.shared(size: MarkLayout.fftSize)

    func frameCount(_ length: Int) -> Int { length == 0 ? 0 : (length + size - hop + hop - 1) / hop }

    /// Band bins per frame, interleaved (re, im), frame-major.
    func analyze(_ signal: [Float]) -> [Float] {
        var unused: [Float] = []
        return analyze(signal, frameEnergy: &unused, measure: false)
    }

    /// Band bins per frame, and in `frameEnergy` each frame's power summed over all bins.
    func analyze(_ signal: [Float], frameEnergy: inout [Float], measure: Bool = true) -> [Float] {
        let frames = frameCount(signal.count), bins = MarkLayout.bandBins, low = MarkLayout.lowBin
        var out = [Float](repeating: 0, count: frames * bins * 2)
        var energy = [Float](repeating: 0, count: measure ? frames : 0)
        let buffers = RealFFTBuffers(size: size)
        let real = buffers.real, spectrum = buffers.spectrum
        let padding = size - hop, size = size, hop = hop
        signal.withUnsafeBufferPointer { x in
            window.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    for f in 0..<frames {
                        let start = f * hop - padding
                        if start >= 0 && start + size <= x.count {
                            for i in 0..<size { real[i] = x[start + i] * w[i] }
                        } else {
                            for i in 0..<size {
                                let n = start + i
                                real[i] = n >= 0 && n < x.count ? x[n] * w[i] : 0
                            }
                        }
                        fft.forward(buffers)
                        let base = f * bins * 2
                        for i in 0..<(2 * bins) { o[base + i] = spectrum[2 * low + i] }
                        if measure {
                            var e: Float = 0
                            for i in 0..<spectrum.count { e += spectrum[i] * spectrum[i] }
                            energy[f] = e
                        }
                    }
                }
            }
        }
        frameEnergy = energy
        return out
    }

    /// The time signal of `band` with each slot's bins scaled by `gains` (filled per slot by `fill`),
    /// overlap-added with the synthesis window, `signalLength` samples.
    func synthesizeChange(of band: [Float], signalLength: Int, slotCount: Int,
                          fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
        let bins = MarkLayout.bandBins, low = MarkLayout.lowBin, padding = size - hop
        var output = [Float](repeating: 0, count: signalLength + padding + size)
        let buffers = RealFFTBuffers(size: size)
        let real = buffers.real, spectrum = buffers.spectrum
        let scale = 1 / (1.5 * Float(size))
        var gains = [Float](repeating: 0, count: bins)
        let size = size, hop = hop
        band.withUnsafeBufferPointer { v in
            window.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { out in
                    gains.withUnsafeMutableBufferPointer { gains in
                        for j in 0..<slotCount {
                            fill(j, gains)
                            for f in (1 + j * MarkLayout.framesPerSlot)..<(1 + (j + 1) * MarkLayout.framesPerSlot) {
                                for i in 0..<spectrum.count { spectrum[i] = 0 }
                                let base = f * bins * 2
                                for i in 0..<bins {
                                    spectrum[2 * (low + i)] = v[base + 2 * i] * gains[i]
                                    spectrum[2 * (low + i) + 1] = v[base + 2 * i + 1] * gains[i]
                                }
                                fft.inverse(buffers)
                                let start = f * hop // in the padded output
                                for i in 0..<size { out[start + i] += real[i] * w[i] * scale }
                            }
                        }
                    }
                }
            }
        }
        return Array(output[padding..<(padding + signalLength)])
    }
}
