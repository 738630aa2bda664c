import Audio
import Foundation

/// Schroeder-Moorer reverberation in Jezar's Freeverb layout: eight damped feedback combs in
/// parallel and four allpasses in series per channel, the right channel's delays 23 samples longer
/// for decorrelation. Delays are Freeverb's 44.1 kHz tunings scaled to the sample rate.
enum Reverb {
    static let combTunings = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617]
    static let allpassTunings = [556, 441, 341, 225]
    static let stereoSpread = 23

    static func apply(_ audio: inout AudioBuffer, _ s: ReverbSettings) {
        mixTail(into: &audio, s) { _ in 1 }
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
        mixTail(into: &audio, s) { peak in
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
    /// magnitude over the channels) in order. Working in blocks keeps memory to the delay lines
    /// instead of several whole-length arrays.
    static func mixTail(into audio: inout AudioBuffer, _ s: ReverbSettings, tailGain: (Float) -> Float) {
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
            for j in 0..<count { send[j] = 0; peaks[j] = 0 }
            for c in 0..<channels {
                audio.channels[c].withUnsafeBufferPointer { x in
                    for j in 0..<count {
                        let v = x[blockStart + j]
                        send[j] += v * inputGain
                        peaks[j] = max(peaks[j], abs(v))
                    }
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
            for t in 0..<tankCount { tanks[t].process(send, count: count, into: &tails[t]) }
            for j in 0..<count { peaks[j] = tailGain(peaks[j]) }
            for c in 0..<channels {
                // Channels beyond the first two get the average of the tanks.
                let (a, b): (Float, Float) = tankCount == 1 ? (wet1 + wet2, 0)
                    : c == 0 ? (wet1, wet2) : c == 1 ? (wet2, wet1) : ((wet1 + wet2) / 2, (wet1 + wet2) / 2)
                let second = tankCount == 1 ? 0 : 1
                audio.channels[c].withUnsafeMutableBufferPointer { x in
                    for j in 0..<count {
                        let tail = a * tails[0][j] + b * tails[second][j]
                        x[blockStart + j] = dry * x[blockStart + j] + peaks[j] * tail
                    }
                }
            }
            blockStart += count
        }
    }

    /// One Freeverb tank: eight damped feedback combs in parallel, then four allpasses (feedback
    /// 0.5) in series, with their state kept from block to block. All combs advance in one loop
    /// over the samples: their recursions are independent, so the processor can overlap them.
    struct Tank {
        var lines: [Float], start: [Int], end: [Int], position: [Int], store: [Float]
        var allpassLines: [[Float]], allpassIndex: [Int]
        let feedback: Float, damp: Float

        init(spread: Int, scale: Double, feedback: Float, damp: Float) {
            let delays = combTunings.map { max(1, Int(Double($0 + spread) * scale)) }
            lines = [Float](repeating: 0, count: delays.reduce(0, +))
            var offset = 0
            start = []; end = []
            for delay in delays { start.append(offset); offset += delay; end.append(offset) }
            position = start
            store = [Float](repeating: 0, count: delays.count)
            allpassLines = allpassTunings.map { [Float](repeating: 0, count: max(1, Int(Double($0 + spread) * scale))) }
            allpassIndex = [Int](repeating: 0, count: allpassTunings.count)
            self.feedback = feedback
            self.damp = damp
        }

        mutating func process(_ input: [Float], count: Int, into output: inout [Float]) {
            let k = start.count, undamp = 1 - damp, feedback = self.feedback, damp = self.damp
            let (start, end) = (self.start, self.end)
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { out in
                    lines.withUnsafeMutableBufferPointer { lines in
                        store.withUnsafeMutableBufferPointer { store in
                            position.withUnsafeMutableBufferPointer { position in
                                for i in 0..<count {
                                    let sample = x[i]
                                    var sum: Float = 0
                                    for c in 0..<k {
                                        let p = position[c]
                                        let delayed = lines[p]
                                        let filtered = delayed * undamp + store[c] * damp
                                        store[c] = filtered
                                        lines[p] = sample + filtered * feedback
                                        position[c] = p + 1 == end[c] ? start[c] : p + 1
                                        sum += delayed
                                    }
                                    out[i] = sum
                                }
                            }
                        }
                    }
                }
            }
            output.withUnsafeMutableBufferPointer { out in
                for a in allpassLines.indices {
                    var index = allpassIndex[a]
                    allpassLines[a].withUnsafeMutableBufferPointer { b in
                        let delay = b.count
                        for i in 0..<count {
                            let delayed = b[index]
                            let x = out[i]
                            out[i] = delayed - x
                            b[index] = x + delayed * 0.5
                            index += 1
                            if index == delay { index = 0 }
                        }
                    }
                    allpassIndex[a] = index
                }
            }
        }
    }
}
