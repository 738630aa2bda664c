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

/// Finds a mark in audio of any rate and channel count, from about 8 s up (a 14.5 s block holds every
/// coded bit once; longer audio adds copies): downmixes to mono, resamples to 16 kHz and computes one
/// STFT and its floored log spectrum. For each speed in a small grid (±2.4 % in 0.2 % steps by
/// default) it reads that log spectrum on the original time-frequency grid (bilinear interpolation:
/// audio played v times faster has its frames v times closer and its frequencies v times higher,
/// so no resampling per speed), forms the quantiser projections at the 8 sub-slot phases, and scores
/// all 226 block phases against the sync bits. The best-scoring alignments are Viterbi-decoded and
/// decrypted with each mark key; the first that authenticates (64 bits must decrypt to zero) is the
/// answer, so a false mark needs a 2^-64 coincidence per try.
public struct WatermarkDetector: Sendable {
    public var markKeys: [MarkKey]
    /// Largest speed change searched, as a fraction (0.024 = ±2.4 %).
    public var maxSpeedChange: Double
    public var speedStep: Double
    /// Largest quantiser step tried; the steps of `MarkLayout.steps` up to it are searched.
    public var step: Float
    /// Best alignments decoded.
    public var candidates: Int

    public init(markKeys: [MarkKey], maxSpeedChange: Double = 0.024, speedStep: Double = 0.002,
                step: Float = WatermarkEmbedder.defaultStep, candidates: Int = 200) {
        self.markKeys = markKeys
        self.maxSpeedChange = maxSpeedChange
        self.speedStep = speedStep
        self.step = step
        self.candidates = candidates
    }

    static let listDecodedAlignments = 4
    static let listSize = 16

    public func detect(_ audio: AudioBuffer) throws -> MarkDetection {
        let n = audio.frameCount
        var mono = [Float](repeating: 0, count: n)
        let inverseChannels = 1 / Float(audio.channelCount)
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                mono.withUnsafeMutableBufferPointer { m in for i in 0..<n { m[i] += x[i] * inverseChannels } }
            }
        }
        return try detect(mono: mono, sampleRate: audio.sampleRate)
    }

    public func detect(mono: [Float], sampleRate: Int) throws -> MarkDetection {
        let signal = try BandResampler.convert(mono, from: sampleRate, to: MarkLayout.sampleRate)
        let layout = MarkLayout.current
        let groups = MarkLayout.groups, blockSlots = MarkLayout.slotsPerBlock, framesPerSlot = MarkLayout.framesPerSlot
        let steps = Int((maxSpeedChange / speedStep).rounded())
        var speeds = [1.0]
        if steps > 0 { for i in 1...steps { speeds += [1 + Double(i) * speedStep, 1 - Double(i) * speedStep] } }
        // The received log spectrum, floored per frame as the layout does, on a grid twice as fine
        // as the layout's in time and frequency (hop 64, 1024-point transforms of the same 512-sample
        // window), read at fractional positions for each speed. Reading is exact at the grid's own
        // speed and its error grows with the distance, so the audio is first re-timed to the nearest
        // anchor, a multiple of 1.2 % (polyphase, 250 -> 250 + 3k), and read from that anchor's grid.
        var grids: [Int: ReceivedGrid] = [:]
        func grid(anchor k: Int) -> ReceivedGrid {
            if let grid = grids[k] { return grid }
            let timed = k == 0 ? signal
                : (BandResampler(from: 250 * 64, to: (250 + 3 * k) * 64, belowMarkRate: true)?.convert(signal) ?? signal)
            let grid = ReceivedGrid(signal: timed, maxBin: Int((Double(MarkLayout.highBin) * 1.007).rounded(.up)) + 2, layout: layout)
            grids[k] = grid
            return grid
        }

        struct Candidate { var score: Float; var speed: Int; var phase: Int; var blockPhase: Int; var step: Float }
        var best: [Candidate] = []
        var threshold = -Float.infinity
        var projections: [[[Float]]] = [] // [speed][phase] -> y
        var weights: [[[Float]]] = []     // [speed][phase] -> reliability of each position
        // The sync positions of a block: (slot, position index).
        var syncPositions: [(slot: Int, position: Int)] = []
        for slot in 0..<blockSlots { for g in layout.syncGroups[slot] { syncPositions.append((slot, slot * groups + g)) } }
        let syncSlot = syncPositions.map { $0.slot }
        let syncGroup = syncPositions.map { $0.position % groups }
        let syncCos = syncPositions.map { cosf(2 * .pi * (Float(layout.syncBit[$0.position]) / 2 + layout.dither[$0.position])) }
        let syncSin = syncPositions.map { sinf(2 * .pi * (Float(layout.syncBit[$0.position]) / 2 + layout.dither[$0.position])) }
        let stepLadder = MarkLayout.steps.filter { $0 <= step * 1.0001 }
        for (si, speed) in speeds.enumerated() {
          var perPhase: [[Float]] = [], weightPerPhase: [[Float]] = []
          // Whole frames and half frames: the excerpt may start anywhere within a hop.
          for half in 0..<2 {
            let anchor = Int(((speed - 1) * 250 / 3).rounded())
            let grid = grid(anchor: anchor)
            let residual = speed / (1 + Double(3 * anchor) / 250)
            let sums = grid.originalFrameSums(speed: residual, layout: layout, offset: Double(half) / 2)
            let frames = sums.count / groups
            // Prefix sums over frames, per group.
            var prefix = [Float](repeating: 0, count: (frames + 1) * groups)
            for f in 0..<frames { for g in 0..<groups { prefix[(f + 1) * groups + g] = prefix[f * groups + g] + sums[f * groups + g] } }
            let frameSensitivity = grid.originalSensitivity(speed: residual, frames: frames)
            for phase in 0..<framesPerSlot {
                let slotCount = max(0, (frames - phase) / framesPerSlot)
                var y = [Float](repeating: 0, count: slotCount * groups)
                for j in 0..<slotCount {
                    let a = phase + j * framesPerSlot, b = a + framesPerSlot
                    for g in 0..<groups { y[j * groups + g] = (prefix[b * groups + g] - prefix[a * groups + g]) / Float(framesPerSlot) }
                }
                perPhase.append(y)
                var w = [Float](repeating: 0, count: slotCount * groups)
                for j in 0..<slotCount {
                    for f in (phase + j * framesPerSlot)..<(phase + (j + 1) * framesPerSlot) {
                        for g in 0..<groups { w[j * groups + g] += frameSensitivity[f * groups + g] }
                    }
                }
                weightPerPhase.append(w)
                // Fold the excerpt onto one block (copies of a block position add up), twice over
                // so that every block phase reads a contiguous run: index s - c + blockSlots.
                let twice = 2 * blockSlots
                var foldedWeight = [Float](repeating: 0, count: groups * twice)
                for j in 0..<slotCount {
                    for g in 0..<groups {
                        foldedWeight[g * twice + j % blockSlots] += w[j * groups + g]
                    }
                }
                for g in 0..<groups { for m in 0..<blockSlots { foldedWeight[g * twice + blockSlots + m] = foldedWeight[g * twice + m] } }
                var syncWeight = [Float](repeating: 0, count: blockSlots)
                for k in 0..<syncSlot.count {
                    let base = syncGroup[k] * twice + syncSlot[k] + blockSlots
                    for c in 0..<blockSlots { syncWeight[c] += foldedWeight[base - c] }
                }
                var foldedCos = [Float](repeating: 0, count: groups * twice), foldedSin = foldedCos
                var scores = [Float](repeating: 0, count: blockSlots)
                for step in stepLadder {
                    for i in 0..<foldedCos.count { foldedCos[i] = 0; foldedSin[i] = 0 }
                    for j in 0..<slotCount {
                        for g in 0..<groups {
                            let i = j * groups + g
                            let angle = 2 * Float.pi * y[i] / step
                            foldedCos[g * twice + j % blockSlots] += w[i] * cosf(angle)
                            foldedSin[g * twice + j % blockSlots] += w[i] * sinf(angle)
                        }
                    }
                    for g in 0..<groups {
                        for m in 0..<blockSlots {
                            foldedCos[g * twice + blockSlots + m] = foldedCos[g * twice + m]
                            foldedSin[g * twice + blockSlots + m] = foldedSin[g * twice + m]
                        }
                    }
                    for c in 0..<blockSlots { scores[c] = 0 }
                    foldedCos.withUnsafeBufferPointer { fc in
                        foldedSin.withUnsafeBufferPointer { fs in
                            scores.withUnsafeMutableBufferPointer { scores in
                                for k in 0..<syncSlot.count {
                                    // cos(2π (u - offset)) by the angle-difference identity, for
                                    // every block phase c at once.
                                    let base = syncGroup[k] * twice + syncSlot[k] + blockSlots
                                    let a = syncCos[k], b = syncSin[k]
                                    for c in 0..<blockSlots { scores[c] += fc[base - c] * a + fs[base - c] * b }
                                }
                            }
                        }
                    }
                    for c in 0..<blockSlots where syncWeight[c] > 0 {
                        let score = scores[c] / syncWeight[c]
                        if score > threshold {
                            best.append(Candidate(score: score, speed: si, phase: perPhase.count - 1, blockPhase: c, step: step))
                            // Kept unsorted up to twice the count, then cut back: linear in the
                            // hypotheses rather than an insertion per improvement.
                            if best.count >= 2 * candidates {
                                best.sort { $0.score > $1.score }
                                best.removeLast(best.count - candidates)
                                threshold = best[best.count - 1].score
                            }
                        }
                    }
                }
            }
          }
          projections.append(perPhase)
          weights.append(weightPerPhase)
        }

        best.sort { $0.score > $1.score }
        if best.count > candidates { best.removeLast(best.count - candidates) }
        var firstMark: Mark?
        var tried = 0
        for candidate in best {
            tried += 1
            let y = projections[candidate.speed][candidate.phase]
            let w = weights[candidate.speed][candidate.phase]
            // cos = +1 on the bit-0 lattice, -1 on the bit-1 lattice, per coded bit; and the same
            // weighted by the position's sensitivity (where the music barely rises above the floor
            // the embedder reached its target least and added noise moves y most).
            var weighted = [Float](repeating: 0, count: MarkLayout.codedBits), plain = weighted
            for j in 0..<(y.count / groups) {
                let blockSlot = (j + candidate.blockPhase) % blockSlots
                for g in 0..<groups {
                    let p = blockSlot * groups + g
                    let coded = layout.codedIndex[p]
                    guard coded >= 0 else { continue }
                    let c = cosf(2 * .pi * (y[j * groups + g] / candidate.step - layout.dither[p]))
                    weighted[coded] -= w[j * groups + g] * c
                    plain[coded] -= c
                }
            }
            // Both are decoded. A codec disturbs strong bins most: Vorbis 64k moved y 1.7-2.5 times
            // more in the third of positions with the highest sensitivity than in the lowest, so
            // the weighting that suits added noise misleads there. Authentication tells the right
            // word, so a second try costs only time.
            for soft in [weighted, plain] {
                // The best alignments get a list of the 16 likeliest words: a mark one or a few bits
                // from the likeliest word fails authentication but is usually on the list.
                let words = tried <= Self.listDecodedAlignments
                    ? ConvolutionalCode.decodeList(soft, bitCount: Mark.bitCount, listSize: Self.listSize)
                    : [ConvolutionalCode.decode(soft, bitCount: Mark.bitCount)]
                for word in words {
                    let mark = try Mark(bits: word)
                    if firstMark == nil { firstMark = mark }
                    for key in markKeys {
                        if let serial = try key.serial(of: mark) {
                            return MarkDetection(serial: serial, markKeyID: key.id, mark: mark, speed: speeds[candidate.speed],
                                                 syncScore: Double(candidate.score), candidatesTried: tried)
                        }
                    }
                }
            }
        }
        return MarkDetection(serial: nil, markKeyID: nil, mark: firstMark, speed: best.first.map { speeds[$0.speed] } ?? 1,
                             syncScore: Double(best.first?.score ?? 0), candidatesTried: tried)
    }
}

/// The floored log power spectrum of received audio (16 kHz), `ln(P + floor)` with the layout's
/// per-frame floor, at half the layout's hop and half its bin spacing: row q is the 512-sample Hann
/// window starting at sample 64 q, column h is frequency h / 2 bins of the 512-point transform.
struct ReceivedGrid {
    let rows: Int
    let columns: Int
    let values: [Float]
    /// Per row and group: the mean of P / (P + floor) over the group's bins, how strongly the
    /// group's bins stand out of the floor (what makes a position's projection reliable).
    let sensitivity: [Float]

    init(signal: [Float], maxBin: Int, layout: MarkLayout) {
        let size = MarkLayout.fftSize, hop = MarkLayout.hop / 2
        let fft = RealFFT.shared(size: 2 * size)
        let buffers = RealFFTBuffers(size: 2 * size)
        let window = Window.hann(size)
        let rows = signal.count < size ? 0 : (signal.count - size) / hop + 1
        let columns = 2 * maxBin + 1
        var values = [Float](repeating: 0, count: rows * columns)
        let real = buffers.real, spectrum = buffers.spectrum
        var power = [Float](repeating: 0, count: columns)
        var sensitivity = [Float](repeating: 0, count: rows * 2)
        let firstColumn = max(0, 2 * MarkLayout.lowBin * 99 / 100 - 2)
        let perGroup = 1 / Float(MarkLayout.bandBins / MarkLayout.groups)
        for i in 0..<(2 * size) { real[i] = 0 }
        signal.withUnsafeBufferPointer { x in
            values.withUnsafeMutableBufferPointer { out in
                for q in 0..<rows {
                    let start = q * hop
                    for i in 0..<size { real[i] = x[start + i] * window[i] }
                    for i in size..<(2 * size) { real[i] = 0 }
                    fft.forward(buffers)
                    var band: Float = 0
                    for h in 0..<columns {
                        power[h] = spectrum[2 * h] * spectrum[2 * h] + spectrum[2 * h + 1] * spectrum[2 * h + 1]
                    }
                    for k in MarkLayout.lowBin..<MarkLayout.highBin { band += power[2 * k] }
                    let floor = MarkLayout.floorRatio * band / Float(MarkLayout.bandBins) + 1e-12
                    // Columns under the band (less 1 % and the interpolation's neighbour) are never read.
                    for h in firstColumn..<columns { out[q * columns + h] = logf(power[h] + floor) }
                    var s0: Float = 0, s1: Float = 0
                    for i in 0..<MarkLayout.bandBins {
                        let p = power[2 * (MarkLayout.lowBin + i)]
                        if layout.binGroup[i] == 0 { s0 += p / (p + floor) } else { s1 += p / (p + floor) }
                    }
                    sensitivity[2 * q] = s0 * perGroup
                    sensitivity[2 * q + 1] = s1 * perGroup
                }
            }
        }
        self.rows = rows
        self.columns = columns
        self.values = values
        self.sensitivity = sensitivity
    }

    /// Per frame of the original timeline and group, the sensitivity of the nearest row.
    func originalSensitivity(speed: Double, frames: Int) -> [Float] {
        var out = [Float](repeating: 0, count: frames * 2)
        for n in 0..<frames {
            let r = min(rows - 1, Int((2 * Double(n) / speed).rounded()))
            out[2 * n] = sensitivity[2 * r]
            out[2 * n + 1] = sensitivity[2 * r + 1]
        }
        return out
    }

    /// Per frame of the original timeline (hop 128 at 16 kHz), each group's sum as the embedder
    /// computes it (`MarkLayout.frameSums`), for audio played `speed` times faster: original frame n
    /// is read at received time n / speed (row 2 n / speed) and original bin k at bin k * speed.
    func originalFrameSums(speed: Double, layout: MarkLayout, offset: Double = 0) -> [Float] {
        let bins = MarkLayout.bandBins
        let frames = rows < 2 ? 0 : max(0, Int(Double(rows - 2) * speed / 2 - offset) + 1)
        var lowIndex = [Int](repeating: 0, count: bins)
        // Quadratic interpolation across half-bins around the nearest one: tonal peaks are
        // close to parabolas in the log spectrum, and linear reading flattens them.
        var c0 = [Float](repeating: 0, count: bins), c1 = c0, c2 = c0
        for i in 0..<bins {
            let position = 2 * Double(MarkLayout.lowBin + i) * speed
            let h = max(1, min(Int(position.rounded()), columns - 2))
            let u = Float(position - Double(h))
            lowIndex[i] = h
            c0[i] = u * (u - 1) / 2   // weight of h - 1
            c1[i] = 1 - u * u          // weight of h
            c2[i] = u * (u + 1) / 2   // weight of h + 1
        }
        var sums = [Float](repeating: 0, count: frames * 2)
        let columns = columns, rows = rows
        values.withUnsafeBufferPointer { l in
            layout.binWeight.withUnsafeBufferPointer { w in
                layout.binGroup.withUnsafeBufferPointer { group in
                    for n in 0..<frames {
                        let position = 2 * (Double(n) + offset) / speed
                        let r = min(Int(position), rows - 2)
                        let t = Float(position - Double(r))
                        let row0 = r * columns, row1 = row0 + columns
                        var s0: Float = 0, s1: Float = 0
                        for i in 0..<bins {
                            let k = lowIndex[i]
                            let a = c0[i] * l[row0 + k - 1] + c1[i] * l[row0 + k] + c2[i] * l[row0 + k + 1]
                            let b = c0[i] * l[row1 + k - 1] + c1[i] * l[row1 + k] + c2[i] * l[row1 + k + 1]
                            let v = w[i] * (a + t * (b - a))
                            if group[i] == 0 { s0 += v } else { s1 += v }
                        }
                        sums[n * 2] = 0.5 * s0
                        sums[n * 2 + 1] = 0.5 * s1
                    }
                }
            }
        }
        return sums
    }
}
