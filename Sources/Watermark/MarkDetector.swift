import Audio
import Foundation
import Spectral

/// The outcome of looking for a mark in a piece of audio.
public struct MarkDetection: Sendable, Equatable {
    /// The serial, when a decoded mark authenticated under one of the mark keys.
    public var serial: UInt64?
    /// The mark key that authenticated it.
    public var markKeyID: KeyID?
    /// The best decoded 128 bits (authenticated only when `serial` is set): for diagnostics and
    /// bit-error counts.
    public var mark: Mark?
    /// Playback speed of the audio relative to the marked original (1.02 = 2 % faster).
    public var speed: Double
    /// Mean agreement of the sync bits at the chosen alignment, -1 ... 1 (about 0 on unmarked audio).
    public var syncScore: Double
    /// Alignments decoded before one authenticated (or all that were tried).
    public var candidatesTried: Int

    public var isFound: Bool { serial != nil }
}

/// Finds a mark in audio of any rate and channel count, from about 8 s up (15 s gives two copies of
/// every coded bit): downmixes to mono, resamples to 16 kHz, and for each speed in a small grid
/// (±2.4 % in 0.2 % steps by default) re-times the audio, computes the quantiser projections at
/// the 8 sub-slot phases, and scores all 112 block phases against the sync bits. The best-scoring
/// alignments are Viterbi-decoded and decrypted with each mark key; the first that authenticates
/// (64 bits must decrypt to zero) is the answer, so a false mark needs a 2^-64 coincidence per try.
public struct WatermarkDetector: Sendable {
    public var markKeys: [MarkKey]
    /// Largest speed change searched, as a fraction (0.024 = ±2.4 %).
    public var maxSpeedChange: Double
    public var speedStep: Double
    /// Quantiser step; must match the embedder's.
    public var step: Float
    /// Best alignments decoded.
    public var candidates: Int

    public init(markKeys: [MarkKey], maxSpeedChange: Double = 0.024, speedStep: Double = 0.002,
                step: Float = WatermarkEmbedder.defaultStep, candidates: Int = 12) {
        self.markKeys = markKeys
        self.maxSpeedChange = maxSpeedChange
        self.speedStep = speedStep
        self.step = step
        self.candidates = candidates
    }

    public func detect(_ audio: AudioBuffer) throws -> MarkDetection {
        let n = audio.frameCount
        var mono = [Float](repeating: 0, count: n)
        let inverseChannels = 1 / Float(audio.channelCount)
        for channel in audio.channels {
            for i in 0..<n { mono[i] += channel[i] * inverseChannels }
        }
        return try detect(mono: mono, sampleRate: audio.sampleRate)
    }

    public func detect(mono: [Float], sampleRate: Int) throws -> MarkDetection {
        let signal = sampleRate == MarkLayout.sampleRate ? mono
            : try SampleRateConverter.convert(mono, ratio: Double(MarkLayout.sampleRate) / Double(sampleRate))
        let layout = MarkLayout.v1
        let stft = ComplexSTFT(size: MarkLayout.fftSize, hop: MarkLayout.hop)
        let groups = MarkLayout.groups, blockSlots = MarkLayout.slotsPerBlock
        let twoPi = 2 * Float.pi
        let steps = Int((maxSpeedChange / speedStep).rounded())
        var speeds = [1.0]
        if steps > 0 { for i in 1...steps { speeds += [1 + Double(i) * speedStep, 1 - Double(i) * speedStep] } }

        struct Candidate { var score: Float; var terms: Int; var speed: Int; var phase: Int; var blockPhase: Int }
        var best: [Candidate] = []
        var projections: [[[Float]]] = [] // [speed][phase] -> y
        for (si, speed) in speeds.enumerated() {
            // Played `speed` times faster: stretching by `speed` restores the original timeline.
            let timed = speed == 1 ? signal : try SampleRateConverter.convert(signal, ratio: speed)
            let spectrogram = stft.analyze(timed)
            // Frames from 3 on start inside the signal; frames whose window ends past it are dropped.
            let usable = min(spectrogram.frameCount, timed.count / MarkLayout.hop)
            let logs = MarkLayout.bandLogMagnitudes(spectrogram)
            var perPhase: [[Float]] = []
            for phase in 0..<MarkLayout.framesPerSlot {
                let first = 3 + phase
                let slotCount = max(0, (usable - first) / MarkLayout.framesPerSlot)
                let y = layout.projections(logMagnitudes: logs, frameCount: usable, firstFrame: first, slotCount: slotCount)
                perPhase.append(y)
                // Phase of each projection relative to the step, for all block phases below.
                let u = y.map { $0 / step }
                for c in 0..<blockSlots {
                    var score: Float = 0
                    var terms = 0
                    for j in 0..<slotCount {
                        let blockSlot = (j + c) % blockSlots
                        for g in layout.syncGroups[blockSlot] {
                            let p = blockSlot * groups + g
                            let offset = Float(layout.syncBit[p]) / 2 + layout.dither[p]
                            score += cosf(twoPi * (u[j * groups + g] - offset))
                            terms += 1
                        }
                    }
                    guard terms > 0 else { continue }
                    let candidate = Candidate(score: score / Float(terms), terms: terms, speed: si, phase: phase, blockPhase: c)
                    if best.count < candidates || candidate.score > best[best.count - 1].score {
                        best.append(candidate)
                        best.sort { $0.score > $1.score }
                        if best.count > candidates { best.removeLast() }
                    }
                }
            }
            projections.append(perPhase)
        }

        var firstMark: Mark?
        var tried = 0
        for candidate in best {
            tried += 1
            let y = projections[candidate.speed][candidate.phase]
            var soft = [Float](repeating: 0, count: MarkLayout.codedBits)
            for j in 0..<(y.count / groups) {
                let blockSlot = (j + candidate.blockPhase) % blockSlots
                for g in 0..<groups {
                    let p = blockSlot * groups + g
                    let coded = layout.codedIndex[p]
                    guard coded >= 0 else { continue }
                    // cos = +1 on the bit-0 lattice, -1 on the bit-1 lattice.
                    soft[coded] -= cosf(twoPi * (y[j * groups + g] / step - layout.dither[p]))
                }
            }
            let mark = try Mark(bits: ConvolutionalCode.decode(soft, bitCount: Mark.bitCount))
            if firstMark == nil { firstMark = mark }
            for key in markKeys {
                if let serial = try key.serial(of: mark) {
                    return MarkDetection(serial: serial, markKeyID: key.id, mark: mark, speed: speeds[candidate.speed],
                                         syncScore: Double(candidate.score), candidatesTried: tried)
                }
            }
        }
        return MarkDetection(serial: nil, markKeyID: nil, mark: firstMark, speed: best.first.map { speeds[$0.speed] } ?? 1,
                             syncScore: Double(best.first?.score ?? 0), candidatesTried: tried)
    }
}
