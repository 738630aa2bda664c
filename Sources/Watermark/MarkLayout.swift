import Foundation
import Spectral

/// Where and how the coded mark sits in the audio. Public and fixed for the format: the secrecy
/// and unforgeability of a mark come from the mark key (AES), not from hiding the layout, so
/// detection needs no key to find the bits and several mark keys can be tried on one decode.
///
/// The signal is analysed mono at 16 kHz with a 512-point STFT (hop 128). Time is cut into slots of
/// 8 hops (64 ms); slot s holds the frames whose window centres fall in samples [1024 s, 1024 s + 1024).
/// The 112 bins from 250 Hz to 3.75 kHz form 56 sub-bands of 2 bins, taken as 28 adjacent pairs
/// (sub-bands 2p and 2p + 1). The pairs are split into 2 fixed pseudo-random groups of 14, each pair
/// with a sign c = ±1, balanced within the group. One group in one slot carries one coded bit by
/// quantisation index modulation of its projection
///
///     y = mean over the slot's 8 frames and the group's pairs of c (l(2p) - l(2p + 1)) / 2,
///
/// where l(j) is the mean over the sub-band's bins of ln(|X|^2 + floor) / 2 and the floor is the
/// frame's mean band power (so a bin well under the frame's level weighs little: codecs and noise
/// change weak bins most). Bit b puts y on the lattice Δ (Z + b/2 + dither).
///
/// Why this shape (measured on rendered music, see docs/watermark.md): adjacent pairs with opposite
/// signs make y blind to gain and to any smooth EQ; a pattern two bins wide per sign survives the
/// overlap-add of resynthesis (about 70 % of the intended change is realised, against 16 % for signs
/// that change from bin to bin); the high floor weights strong bins, where MP3, Vorbis and added
/// noise disturb the log spectrum least; 250 Hz - 3.75 kHz is the part of the spectrum 64 kbit/s
/// codecs keep best.
///
/// A block is 226 slots (14.46 s) = 452 positions: 402 coded bits (interleaved) and 50 known sync
/// bits. Blocks repeat end to end, so any 15 s excerpt holds every position at least once.
struct MarkLayout: Sendable {
    static let sampleRate = 16_000
    static let fftSize = 512
    static let hop = 128
    static let framesPerSlot = 8
    static let slotSamples = hop * framesPerSlot
    static let lowBin = 8    // 250 Hz
    static let highBin = 120 // 3.75 kHz (exclusive)
    static var bandBins: Int { highBin - lowBin }
    static let subbandWidth = 2
    static var subbands: Int { bandBins / subbandWidth }
    static var pairs: Int { subbands / 2 }
    static let groups = 2
    static var pairsPerGroup: Int { pairs / groups }
    static let slotsPerBlock = 226
    static var positions: Int { slotsPerBlock * groups }
    static let codedBits = ConvolutionalCode.codedCount(bits: Mark.bitCount) // 402
    static var syncBits: Int { positions - codedBits } // 50
    /// Power floor added to every bin, relative to the frame's mean band power.
    static let floorRatio: Float = 1
    /// The quantiser steps a track can be marked with (a ladder in ratios of √2): the embedder
    /// picks the largest whose change keeps the signal-to-watermark ratio at its target, so dense
    /// music (which codecs disturb most) gets a coarse step and sparse music a fine one, and the
    /// detector tries each, as it tries speeds. Measured noise on y from the attacks ranges from
    /// 0.0005 (MP3, sparse ambient music) to 0.010 (Vorbis, distorted guitars).
    static let steps: [Float] = (0..<10).map { 0.004 * powf(2, Float($0) / 2) }

    /// Group of each pair, 0..<groups.
    let pairGroup: [Int]
    /// ±1 per pair, balanced within each group.
    let pairSign: [Float]
    /// Per band bin: the weight of its log magnitude in each group's per-frame sum, ±1/(2 · width · pairsPerGroup).
    let binWeight: [Float]
    /// Per band bin: its group.
    let binGroup: [Int]
    /// Per band bin: +1 when a positive log gain of its position raises it, -1 when it lowers it.
    let binSign: [Float]
    /// Per position (slot * groups + group): the dither as a fraction of the step, in [0, 1).
    let dither: [Float]
    /// Per position: the coded bit index it carries, or -1 for a sync position.
    let codedIndex: [Int]
    /// Per position: the known bit of a sync position (0 elsewhere).
    let syncBit: [UInt8]
    /// Per slot of the block: its sync positions' groups.
    let syncGroups: [[Int]]

    static let current = MarkLayout(seed: 0x5452_4143_454D_4B32) // "TRACEMK2"

    init(seed: UInt64) {
        var random = LayoutRandom(state: seed)
        var order = Array(0..<Self.pairs)
        random.shuffle(&order)
        var group = [Int](repeating: 0, count: Self.pairs)
        var sign = [Float](repeating: 1, count: Self.pairs)
        for (i, pair) in order.enumerated() {
            group[pair] = i % Self.groups
            sign[pair] = (i / Self.groups) % 2 == 0 ? 1 : -1
        }
        pairGroup = group
        pairSign = sign
        let unit = 1 / Float(2 * Self.subbandWidth * Self.pairsPerGroup)
        var weight = [Float](repeating: 0, count: Self.bandBins)
        var bGroup = [Int](repeating: 0, count: Self.bandBins)
        for i in 0..<Self.bandBins {
            let subband = i / Self.subbandWidth, pair = subband / 2
            weight[i] = (subband % 2 == 0 ? 1 : -1) * sign[pair] * unit
            bGroup[i] = group[pair]
        }
        binWeight = weight
        binGroup = bGroup
        binSign = weight.map { $0 > 0 ? 1 : -1 }
        dither = (0..<Self.positions).map { _ in random.unit() }
        // Sync positions spread evenly, one every positions/syncBits, at a random group each time.
        var isSync = [Bool](repeating: false, count: Self.positions)
        for i in 0..<Self.syncBits {
            let slot = i * Self.slotsPerBlock / Self.syncBits
            isSync[slot * Self.groups + random.below(Self.groups)] = true
        }
        var interleaver = Array(0..<Self.codedBits)
        random.shuffle(&interleaver) // neighbouring coded bits land far apart
        var coded = [Int](repeating: -1, count: Self.positions)
        var bitsOut = [UInt8](repeating: 0, count: Self.positions)
        var next = 0
        var syncGroups = [[Int]](repeating: [], count: Self.slotsPerBlock)
        for p in 0..<Self.positions {
            if isSync[p] {
                bitsOut[p] = UInt8(random.next() & 1)
                syncGroups[p / Self.groups].append(p % Self.groups)
            } else {
                coded[p] = interleaver[next]
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

    /// Per frame, each group's weighted sum of floored log magnitudes (`groups` values per frame):
    /// the projection of a slot is the mean of its 8 frames' values. `bandPower(f, i)` is the power
    /// of band bin i (0..<bandBins) in frame f. Also returns, per frame and group, the mean
    /// sensitivity P / (P + floor) of the group's bins: how much y moves per unit of log gain.
    static func frameSums(frameCount: Int, power: (Int, UnsafeMutableBufferPointer<Float>) -> Void,
                          layout: MarkLayout, sensitivity: Bool = false) -> (sums: [Float], sensitivity: [Float]) {
        let bins = bandBins
        var sums = [Float](repeating: 0, count: frameCount * groups)
        var sens = [Float](repeating: 0, count: sensitivity ? frameCount * groups : 0)
        var p = [Float](repeating: 0, count: bins)
        let perGroupBins = 1 / Float(bins / groups)
        p.withUnsafeMutableBufferPointer { p in
            layout.binWeight.withUnsafeBufferPointer { w in
                layout.binGroup.withUnsafeBufferPointer { g in
                    for f in 0..<frameCount {
                        power(f, p)
                        var total: Float = 0
                        for i in 0..<bins { total += p[i] }
                        let floor = floorRatio * total / Float(bins) + 1e-12
                        var s0: Float = 0, s1: Float = 0
                        for i in 0..<bins {
                            let v = w[i] * logf(p[i] + floor)
                            if g[i] == 0 { s0 += v } else { s1 += v }
                        }
                        // ln(P + floor) / 2 per bin; the weights already average over bins and pairs.
                        sums[f * 2] = 0.5 * s0
                        sums[f * 2 + 1] = 0.5 * s1
                        if sensitivity {
                            var e0: Float = 0, e1: Float = 0
                            for i in 0..<bins {
                                let v = p[i] / (p[i] + floor)
                                if g[i] == 0 { e0 += v } else { e1 += v }
                            }
                            sens[f * 2] = e0 * perGroupBins
                            sens[f * 2 + 1] = e1 * perGroupBins
                        }
                    }
                }
            }
        }
        return (sums, sens)
    }

    /// Frame sums of a spectrogram's band.
    static func frameSums(_ spectrogram: ComplexSpectrogram, layout: MarkLayout, sensitivity: Bool = false) -> (sums: [Float], sensitivity: [Float]) {
        spectrogram.values.withUnsafeBufferPointer { v in
            frameSums(frameCount: spectrogram.frameCount, power: { f, p in
                let base = (f * spectrogram.binCount + lowBin) * 2
                for i in 0..<bandBins {
                    let re = v[base + 2 * i], im = v[base + 2 * i + 1]
                    p[i] = re * re + im * im
                }
            }, layout: layout, sensitivity: sensitivity)
        }
    }
}

/// Read access to a spectrogram's values without copying (a `ComplexSpectrogram` from Spectral).
typealias ComplexSpectrogramView = Spectral.ComplexSpectrogram
