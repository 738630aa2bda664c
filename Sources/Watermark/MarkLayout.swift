import Foundation
import Spectral

/// Where and how the coded mark sits in the audio. Public and fixed for format version 1: the
/// secrecy and unforgeability of a mark come from the mark key (AES), not from hiding the layout,
/// so detection needs no key to find the bits and several mark keys can be tried on one decode.
///
/// The signal is analysed mono at 16 kHz with a 512-point STFT (hop 128). Time is cut into slots of
/// 8 hops (64 ms); slot s holds the frames whose window centres fall in samples [1024 s, 1024 s + 1024).
/// The 176 bins from 500 Hz to 6 kHz are split into 4 fixed pseudo-random groups of 44 bins, each
/// with a balanced ±1 sign per bin. One group in one slot carries one coded bit by quantisation index
/// modulation of its projection: y = mean over the slot's frames and the group's bins of
/// sign * ln|X| (ln with a floor 20 dB under the frame's band mean). Bit b puts y on the lattice
/// Δ (Z + b/2) + dither. The balanced signs make y blind to gain and smooth EQ; the quantiser makes
/// the host's own y irrelevant (no host interference, unlike additive spread spectrum).
///
/// A block is 112 slots (7.17 s) = 448 positions: 402 coded bits (interleaved) and 46 known sync
/// bits. Blocks repeat end to end, so any 15 s excerpt holds every position about twice.
struct MarkLayout: Sendable {
    static let sampleRate = 16_000
    static let fftSize = 512
    static let hop = 128
    static let framesPerSlot = 8
    static let slotSamples = hop * framesPerSlot
    static let lowBin = 16   // 500 Hz
    static let highBin = 192 // 6 kHz (exclusive)
    static var bandBins: Int { highBin - lowBin }
    static let groups = 4
    static let slotsPerBlock = 112
    static var positions: Int { slotsPerBlock * groups }
    static let codedBits = ConvolutionalCode.codedCount(bits: Mark.bitCount) // 402
    static var syncBits: Int { positions - codedBits } // 46
    /// Frame log-power floor, relative to the frame's mean band power (-20 dB).
    static let floorRatio: Float = 0.01

    /// Group of each band bin (index k - lowBin), 0..<groups.
    let binGroup: [Int]
    /// ±1 per band bin, balanced within each group.
    let binSign: [Float]
    /// Per position (slot * groups + group): the dither as a fraction of the step, in [0, 1).
    let dither: [Float]
    /// Per position: the coded bit index it carries, or -1 for a sync position.
    let codedIndex: [Int]
    /// Per position: the known bit of a sync position (0 elsewhere).
    let syncBit: [UInt8]
    /// Per slot of the block: its sync positions' groups.
    let syncGroups: [[Int]]

    static let v1 = MarkLayout(seed: 0x5452_4143_454D_524B) // "TRACEMRK"

    init(seed: UInt64) {
        var random = LayoutRandom(state: seed)
        let perGroup = Self.bandBins / Self.groups
        var bins = Array(0..<Self.bandBins)
        random.shuffle(&bins)
        var group = [Int](repeating: 0, count: Self.bandBins)
        var sign = [Float](repeating: 1, count: Self.bandBins)
        for (i, bin) in bins.enumerated() {
            group[bin] = i / perGroup
            sign[bin] = (i % perGroup) < perGroup / 2 ? 1 : -1
        }
        binGroup = group
        binSign = sign
        dither = (0..<Self.positions).map { _ in random.unit() }
        // Sync positions spread evenly, one every positions/syncBits, at a random group each time.
        var isSync = [Bool](repeating: false, count: Self.positions)
        for i in 0..<Self.syncBits {
            let slot = i * Self.slotsPerBlock / Self.syncBits
            isSync[slot * Self.groups + random.below(Self.groups)] = true
        }
        var order = Array(0..<Self.codedBits)
        random.shuffle(&order) // the interleaver: neighbouring coded bits land far apart
        var coded = [Int](repeating: -1, count: Self.positions)
        var bitsOut = [UInt8](repeating: 0, count: Self.positions)
        var next = 0
        var syncGroups = [[Int]](repeating: [], count: Self.slotsPerBlock)
        for p in 0..<Self.positions {
            if isSync[p] {
                bitsOut[p] = UInt8(random.next() & 1)
                syncGroups[p / Self.groups].append(p % Self.groups)
            } else {
                coded[p] = order[next]
                next += 1
            }
        }
        precondition(next == Self.codedBits)
        codedIndex = coded
        syncBit = bitsOut
        self.syncGroups = syncGroups
    }

    /// The bit each position of a block carries for `mark`.
    func positionBits(for mark: Mark) -> [UInt8] {
        let coded = ConvolutionalCode.encode(mark.bits)
        return (0..<Self.positions).map { codedIndex[$0] >= 0 ? coded[codedIndex[$0]] : syncBit[$0] }
    }

    /// Per-bin log magnitudes of the band for each frame: `ln(|X|^2 + floor) / 2`, frame-major.
    static func bandLogMagnitudes(_ spectrogram: ComplexSpectrogramView) -> [Float] {
        let bins = bandBins
        var out = [Float](repeating: 0, count: spectrogram.frameCount * bins)
        var power = [Float](repeating: 0, count: bins)
        out.withUnsafeMutableBufferPointer { o in
            power.withUnsafeMutableBufferPointer { p in
                spectrogram.values.withUnsafeBufferPointer { v in
                    for f in 0..<spectrogram.frameCount {
                        let base = (f * spectrogram.binCount + lowBin) * 2
                        var sum: Float = 0
                        for i in 0..<bins {
                            let re = v[base + 2 * i], im = v[base + 2 * i + 1]
                            p[i] = re * re + im * im
                            sum += p[i]
                        }
                        let floor = floorRatio * sum / Float(bins) + 1e-12
                        for i in 0..<bins { o[f * bins + i] = 0.5 * logf(p[i] + floor) }
                    }
                }
            }
        }
        return out
    }

    /// Projections y[slot * groups + g] for slots whose frames are `firstFrame + 8 j ..< firstFrame + 8 j + 8`.
    func projections(logMagnitudes l: [Float], frameCount: Int, firstFrame: Int, slotCount: Int) -> [Float] {
        let bins = Self.bandBins
        var y = [Float](repeating: 0, count: slotCount * Self.groups)
        let scale = 1 / Float(Self.framesPerSlot * bins / Self.groups)
        var acc = [Float](repeating: 0, count: bins)
        l.withUnsafeBufferPointer { l in
            binGroup.withUnsafeBufferPointer { group in
                binSign.withUnsafeBufferPointer { sign in
                    acc.withUnsafeMutableBufferPointer { acc in
                        for j in 0..<slotCount {
                            let start = firstFrame + j * Self.framesPerSlot
                            guard start >= 0, start + Self.framesPerSlot <= frameCount else { continue }
                            for i in 0..<bins { acc[i] = 0 }
                            for f in start..<(start + Self.framesPerSlot) {
                                let base = f * bins
                                for i in 0..<bins { acc[i] += l[base + i] }
                            }
                            var sums: (Float, Float, Float, Float) = (0, 0, 0, 0)
                            for i in 0..<bins {
                                let v = acc[i] * sign[i]
                                switch group[i] {
                                case 0: sums.0 += v
                                case 1: sums.1 += v
                                case 2: sums.2 += v
                                default: sums.3 += v
                                }
                            }
                            y[j * 4] = sums.0 * scale
                            y[j * 4 + 1] = sums.1 * scale
                            y[j * 4 + 2] = sums.2 * scale
                            y[j * 4 + 3] = sums.3 * scale
                        }
                    }
                }
            }
        }
        return y
    }
}

/// Read access to a spectrogram's values without copying (a `ComplexSpectrogram` from Spectral).
typealias ComplexSpectrogramView = Spectral.ComplexSpectrogram
