import Audio
import Foundation
import Spectral

/// What embedding did to the audio.
public struct EmbeddingReport: Sendable, Equatable {
    /// Signal-to-watermark ratio over all channels, in dB (energy of the input over energy of the change).
    public var signalToWatermarkDB: Double
    /// Positions carried per block and blocks laid end to end over the track.
    public var blocks: Double
}

/// Embeds a 128-bit mark into audio (any rate at or above 16 kHz, any channel count).
///
/// The mark is written into the STFT magnitudes of the mono mix at 16 kHz (see `MarkLayout`): each
/// time-frequency cell of the 500 Hz - 6 kHz band is scaled by exp(±δ), a few per cent, so the change
/// is a copy of the host's own spectrum at every cell, as loud as the music there and masked by it
/// (silence stays silent, loud passages carry proportionally more). The change is computed at
/// 16 kHz, resampled to the input rate and added identically to every channel, so a mono downmix
/// keeps it whole. Two refinement passes re-analyse the result and correct for the spreading of the
/// overlap-add, so the detector sees the intended quantiser points.
public struct WatermarkEmbedder: Sendable {
    /// Quantiser step Δ of the projections (natural-log units). The mean per-cell change is about
    /// Δ / sqrt(12); 0.16 gives 30-32 dB signal-to-watermark ratio on typical music.
    public var step: Float
    /// Analysis-synthesis passes (1 = no refinement).
    public var passes: Int

    public init(step: Float = WatermarkEmbedder.defaultStep, passes: Int = 3) {
        self.step = step
        self.passes = passes
    }

    public static let defaultStep: Float = 0.16

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
        let toInternal = Double(MarkLayout.sampleRate) / Double(audio.sampleRate)
        let internalSignal = audio.sampleRate == MarkLayout.sampleRate ? mono : try SampleRateConverter.convert(mono, ratio: toInternal)
        let change = embedInternal(mark, signal: internalSignal)
        let changeAtRate = audio.sampleRate == MarkLayout.sampleRate ? change
            : try SampleRateConverter.convert(change, ratio: 1 / toInternal)
        var output = audio
        var signalEnergy = 0.0, changeEnergy = 0.0
        for c in 0..<audio.channelCount {
            output.channels[c].withUnsafeMutableBufferPointer { y in
                changeAtRate.withUnsafeBufferPointer { d in
                    let count = min(n, d.count)
                    for i in 0..<n { signalEnergy += Double(y[i] * y[i]) }
                    for i in 0..<count {
                        y[i] += d[i]
                        changeEnergy += Double(d[i] * d[i])
                    }
                }
            }
        }
        let swr = changeEnergy > 0 ? 10 * log10(signalEnergy / changeEnergy) : .infinity
        let blocks = Double(internalSignal.count) / Double(MarkLayout.slotSamples * MarkLayout.slotsPerBlock)
        return (output, EmbeddingReport(signalToWatermarkDB: swr, blocks: blocks))
    }

    /// The change to add to `signal` (mono, 16 kHz) to carry `mark`.
    func embedInternal(_ mark: Mark, signal: [Float]) -> [Float] {
        let layout = MarkLayout.v1
        let stft = ComplexSTFT(size: MarkLayout.fftSize, hop: MarkLayout.hop)
        let original = stft.analyze(signal)
        let frames = original.frameCount
        // Frame t's window centre is at sample 128 t - 128: slot s owns frames 8 s + 1 ... 8 s + 8.
        let slotCount = max(0, (frames - 1) / MarkLayout.framesPerSlot)
        let positionBits = layout.positionBits(for: mark)
        let groups = MarkLayout.groups
        var targets = [Float](repeating: 0, count: slotCount * groups)
        var delta = [Float](repeating: 0, count: slotCount * groups)
        let maxDelta = step * 0.75

        var current = original
        var output = signal
        for pass in 0..<max(passes, 1) {
            if pass > 0 { current = stft.analyze(output) }
            let logs = MarkLayout.bandLogMagnitudes(current)
            let y = layout.projections(logMagnitudes: logs, frameCount: frames, firstFrame: 1, slotCount: slotCount)
            for j in 0..<slotCount {
                for g in 0..<groups {
                    let i = j * groups + g
                    let position = (j % MarkLayout.slotsPerBlock) * groups + g
                    if pass == 0 {
                        // Nearest lattice point for the bit: Δ (m + b/2) + dither Δ.
                        let offset = (Float(positionBits[position]) / 2 + layout.dither[position]) * step
                        let target = ((y[i] - offset) / step).rounded() * step + offset
                        targets[i] = target
                        delta[i] = target - y[i]
                    } else {
                        delta[i] = max(-maxDelta, min(maxDelta, delta[i] + (targets[i] - y[i])))
                    }
                }
            }
            var modified = original
            applyGains(delta, to: &modified, slotCount: slotCount, layout: layout)
            output = stft.synthesize(modified)
        }
        var change = output
        for i in 0..<change.count { change[i] -= signal[i] }
        return change
    }

    private func applyGains(_ delta: [Float], to spectrogram: inout ComplexSpectrogram, slotCount: Int, layout: MarkLayout) {
        let bins = MarkLayout.bandBins, groups = MarkLayout.groups, binCount = spectrogram.binCount
        var gains = [Float](repeating: 1, count: bins)
        spectrogram.values.withUnsafeMutableBufferPointer { v in
            for j in 0..<slotCount {
                for i in 0..<bins { gains[i] = expf(layout.binSign[i] * delta[j * groups + layout.binGroup[i]]) }
                for f in (1 + j * MarkLayout.framesPerSlot)..<(1 + (j + 1) * MarkLayout.framesPerSlot) {
                    let base = (f * binCount + MarkLayout.lowBin) * 2
                    for i in 0..<bins {
                        v[base + 2 * i] *= gains[i]
                        v[base + 2 * i + 1] *= gains[i]
                    }
                }
            }
        }
    }
}
