import Audio
import Foundation
import Spectral

/// Schroeder-Moorer reverberation in Jezar's Freeverb layout: eight damped feedback combs in
/// parallel and four allpasses in series per channel, the right channel's delays 23 samples longer
/// for decorrelation. Delays are Freeverb's 44.1 kHz tunings scaled to the sample rate.
enum Reverb {
    static let combTunings = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617]
    static let allpassTunings = [556, 441, 341, 225]
    static let stereoSpread = 23

    static func apply(_ audio: inout AudioBuffer, _ s: ReverbSettings) {
        mixTail(into: &audio, s, gated: false) { _ in 1 }
    }

    /// The 80s gated sound: the tail plays only while the dry signal is loud, holds for `hold`
    /// after it drops below the threshold, then closes within `release`.
    static func gated(_ audio: inout AudioBuffer, _ s: ReverbSettings, _ g: GateSettings) {
        let rate = Double(audio.sampleRate)
        let threshold = Float(pow(10, g.thresholdDecibels / 20))
        let hold = Int(g.holdMilliseconds * 0.001 * rate)
        let close = Float(exp(-1 / (g.releaseMilliseconds * 0.001 * rate)))
        let open = Float(exp(-1 / (0.001 * rate))) // 1 ms opening: no click
        let envelopeRelease = Float(exp(-1 / (0.010 * rate)))
        var envelope: Float = 0, level: Float = 0, sinceLoud = Int.max / 2
        // The gate follows the dry signal, which each block reads before it is mixed.
        mixTail(into: &audio, s, gated: true) { peak in
            envelope = max(peak, envelope * envelopeRelease)
            if envelope >= threshold { sinceLoud = 0 } else { sinceLoud += 1 }
            let target: Float = sinceLoud <= hold ? 1 : 0
            level = target + (target > level ? open : close) * (level - target)
            return level
        }
    }

    static let blockFrames = 4096

    /// Runs the reverb block by block and mixes its tail into the audio in place:
    /// `x = dry * x + tailGain * tail`, where `tailGain` gets each frame's dry peak (largest
    /// magnitude over the channels) in order; when not `gated`, the gain is 1 and neither peaks
    /// nor `tailGain` are computed. Working in blocks keeps memory to the delay lines instead of
    /// several whole-length arrays. (`tailGain` is not optional: an optional closure escapes, and
    /// the gate's state would live on the heap.)
    static func mixTail(into audio: inout AudioBuffer, _ s: ReverbSettings, gated: Bool, tailGain: (Float) -> Float) {
        let n = audio.frameCount, channels = audio.channelCount
        let scale = Double(audio.sampleRate) / 44100
        let predelay = Int(s.predelayMilliseconds * 0.001 * Double(audio.sampleRate))
        // Freeverb's mapping of its 0...1 controls.
        let feedback = Float(s.roomSize * 0.28 + 0.7)
        let damp = Float(s.damping * 0.4)
        let wet = Float(s.wet * 3)
        let wet1 = wet * Float(s.width / 2 + 0.5), wet2 = wet * Float((1 - s.width) / 2)
        // Mono send into both tanks, with Freeverb's fixed input gain.
        let inputGain = 0.015 / Float(channels) * 2
        let dry = Float(s.dry)
        let tankCount = channels == 1 ? 1 : 2
        var tanks = (0..<tankCount).map { t in
            Tank(spread: t == 0 ? 0 : stereoSpread, scale: scale, feedback: feedback, damp: damp)
        }
        var predelayLine = [Float](repeating: 0, count: max(predelay, 1)), predelayIndex = 0
        var send = [Float](repeating: 0, count: blockFrames)
        var tails = [[Float]](repeating: [Float](repeating: 0, count: blockFrames), count: tankCount)
        // Each frame's dry peak, then the tail's gain there.
        var peaks = [Float](repeating: 0, count: blockFrames)
        var blockStart = 0
        while blockStart < n {
            let count = min(blockFrames, n - blockStart)
            send.withUnsafeMutableBufferPointer { send in
                peaks.withUnsafeMutableBufferPointer { peaks in
                    for j in 0..<count { send[j] = 0; peaks[j] = 0 }
                    for c in 0..<channels {
                        audio.channels[c].withUnsafeBufferPointer { x in
                            let x = x.baseAddress! + blockStart
                            for j in 0..<count { send[j] += x[j] * inputGain }
                            if gated { VectorOps.accumulateMaximumMagnitude(x, into: peaks.baseAddress!, count: count) }
                        }
                    }
                    if predelay > 0 {
                        for j in 0..<count {
                            let delayed = predelayLine[predelayIndex]
                            predelayLine[predelayIndex] = send[j]
                            send[j] = delayed
                            predelayIndex = predelayIndex + 1 == predelay ? 0 : predelayIndex + 1
                        }
                    }
                    if gated {
                        for j in 0..<count { peaks[j] = tailGain(peaks[j]) }
                    } else {
                        for j in 0..<count { peaks[j] = 1 }
                    }
                }
            }
            for t in 0..<tankCount { tanks[t].process(send, count: count, into: &tails[t]) }
            for c in 0..<channels {
                // Channels beyond the first two get the average of the tanks.
                let (a, b): (Float, Float) = tankCount == 1 ? (wet1 + wet2, 0)
                    : c == 0 ? (wet1, wet2) : c == 1 ? (wet2, wet1) : ((wet1 + wet2) / 2, (wet1 + wet2) / 2)
                let second = tankCount == 1 ? 0 : 1
                tails[0].withUnsafeBufferPointer { first in
                    tails[second].withUnsafeBufferPointer { other in
                        peaks.withUnsafeBufferPointer { gain in
                            audio.channels[c].withUnsafeMutableBufferPointer { x in
                                let x = x.baseAddress! + blockStart
                                for j in 0..<count {
                                    let tail = a * first[j] + b * other[j]
                                    x[j] = dry * x[j] + gain[j] * tail
                                }
                            }
                        }
                    }
                }
            }
            blockStart += count
        }
    }

    /// One Freeverb tank: eight damped feedback combs in parallel, then four allpasses (feedback
    /// 0.5) in series, with their state kept from block to block.
    ///
    /// The eight combs run as the eight lanes of one vector: their lines share one ring of
    /// eight-lane rows, each comb writing its lane of the current row and reading its lane of the
    /// row its own delay back, so a sample costs one vector recursion, eight reads and one vector
    /// write instead of eight scalar recursions with their index bookkeeping. Every lane does
    /// Freeverb's arithmetic in Freeverb's order, so the output is the same as comb by comb.
    struct Tank {
        var ring: [SIMD8<Float>], mask: Int, write = 0
        let delays: [Int]
        var store = SIMD8<Float>.zero
        var allpassLines: [[Float]], allpassIndex: [Int]
        let feedback: Float, damp: Float

        init(spread: Int, scale: Double, feedback: Float, damp: Float) {
            delays = combTunings.map { max(1, Int(Double($0 + spread) * scale)) }
            var size = 1
            while size <= delays.max()! { size *= 2 }
            ring = [SIMD8<Float>](repeating: .zero, count: size)
            mask = size - 1
            allpassLines = allpassTunings.map { [Float](repeating: 0, count: max(1, Int(Double($0 + spread) * scale))) }
            allpassIndex = [Int](repeating: 0, count: allpassTunings.count)
            self.feedback = feedback
            self.damp = damp
        }

        mutating func process(_ input: [Float], count: Int, into output: inout [Float]) {
            let undamp = SIMD8<Float>(repeating: 1 - damp), damping = SIMD8<Float>(repeating: damp)
            let feedback = SIMD8<Float>(repeating: self.feedback), mask = self.mask
            let d = delays
            let (d0, d1, d2, d3, d4, d5, d6, d7) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7])
            var w = write, store = self.store
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { out in
                    ring.withUnsafeMutableBufferPointer { ring in
                        let rows = ring.baseAddress!
                        let lanes = UnsafeMutableRawPointer(rows).assumingMemoryBound(to: Float.self)
                        for i in 0..<count {
                            let delayed = SIMD8<Float>(lanes[((w &- d0) & mask) &* 8], lanes[((w &- d1) & mask) &* 8 &+ 1],
                                                       lanes[((w &- d2) & mask) &* 8 &+ 2], lanes[((w &- d3) & mask) &* 8 &+ 3],
                                                       lanes[((w &- d4) & mask) &* 8 &+ 4], lanes[((w &- d5) & mask) &* 8 &+ 5],
                                                       lanes[((w &- d6) & mask) &* 8 &+ 6], lanes[((w &- d7) & mask) &* 8 &+ 7])
                            let filtered = delayed * undamp + store * damping
                            store = filtered
                            rows[w] = SIMD8(repeating: x[i]) + filtered * feedback
                            // Summed in comb order, as Freeverb does.
                            out[i] = ((((((delayed[0] + delayed[1]) + delayed[2]) + delayed[3]) + delayed[4]) + delayed[5]) + delayed[6]) + delayed[7]
                            w = (w &+ 1) & mask
                        }
                    }
                }
            }
            write = w
            self.store = store
            // Allpasses: a sample reads its line `delay` samples after it was written, so a stretch
            // that does not wrap around the line has no dependency inside it: eight samples at a time.
            output.withUnsafeMutableBufferPointer { out in
                for a in allpassLines.indices {
                    var index = allpassIndex[a]
                    allpassLines[a].withUnsafeMutableBufferPointer { b in
                        let delay = b.count
                        var i = 0
                        while i < count {
                            let length = min(count - i, delay - index)
                            Reverb.allpass(out.baseAddress! + i, b.baseAddress! + index, count: length)
                            i += length
                            index += length
                            if index == delay { index = 0 }
                        }
                    }
                    allpassIndex[a] = index
                }
            }
        }
    }

    /// Freeverb's allpass over a stretch whose line positions are all distinct: y = line - x,
    /// line = x + line * 0.5.
    static func allpass(_ x: UnsafeMutablePointer<Float>, _ line: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let half = SIMD8<Float>(repeating: 0.5)
        while i + 8 <= count {
            let delayed = VectorOps.load(line, i), input = VectorOps.load(x, i)
            VectorOps.store(delayed - input, x, i)
            VectorOps.store(input + delayed * half, line, i)
            i += 8
        }
        while i < count {
            let delayed = line[i], input = x[i]
            x[i] = delayed - input
            line[i] = input + delayed * 0.5
            i += 1
        }
    }
}
