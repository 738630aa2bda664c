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
        let tails = wet(audio, s)
        let dry = Float(s.dry)
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                tails[c].withUnsafeBufferPointer { t in
                    for i in x.indices { x[i] = dry * x[i] + t[i] }
                }
            }
        }
    }

    /// The 80s gated sound: the tail plays only while the dry signal is loud, holds for `hold`
    /// after it drops below the threshold, then closes within `release`.
    static func gated(_ audio: inout AudioBuffer, _ s: ReverbSettings, _ g: GateSettings) {
        let tails = wet(audio, s)
        let rate = Double(audio.sampleRate)
        let threshold = Float(pow(10, g.thresholdDecibels / 20))
        let hold = Int(g.holdMilliseconds * 0.001 * rate)
        let close = Float(exp(-1 / (g.releaseMilliseconds * 0.001 * rate)))
        let open = Float(exp(-1 / (0.001 * rate))) // 1 ms opening: no click
        let envelopeRelease = Float(exp(-1 / (0.010 * rate)))
        let peak = Dynamics.linkedPeak(audio)
        var gate = [Float](repeating: 0, count: audio.frameCount)
        var envelope: Float = 0, level: Float = 0, sinceLoud = Int.max / 2
        for i in gate.indices {
            envelope = max(peak[i], envelope * envelopeRelease)
            if envelope >= threshold { sinceLoud = 0 } else { sinceLoud += 1 }
            let target: Float = sinceLoud <= hold ? 1 : 0
            level = target + (target > level ? open : close) * (level - target)
            gate[i] = level
        }
        let dry = Float(s.dry)
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                tails[c].withUnsafeBufferPointer { t in
                    for i in x.indices { x[i] = dry * x[i] + gate[i] * t[i] }
                }
            }
        }
    }

    /// The reverberated signal alone, one array per channel, already scaled by `wet` and `width`.
    static func wet(_ audio: AudioBuffer, _ s: ReverbSettings) -> [[Float]] {
        let n = audio.frameCount
        let scale = Double(audio.sampleRate) / 44100
        let predelay = Int(s.predelayMilliseconds * 0.001 * Double(audio.sampleRate))
        // Freeverb's mapping of its 0...1 controls.
        let feedback = Float(s.roomSize * 0.28 + 0.7)
        let damp = Float(s.damping * 0.4)
        let wet = Float(s.wet * 3)
        let wet1 = wet * Float(s.width / 2 + 0.5), wet2 = wet * Float((1 - s.width) / 2)
        // Mono send into both tanks, with Freeverb's fixed input gain.
        var send = [Float](repeating: 0, count: n)
        let inputGain = 0.015 / Float(audio.channelCount) * 2
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                for i in 0..<n where i + predelay < n { send[i + predelay] += x[i] * inputGain }
            }
        }
        let tankCount = audio.channelCount == 1 ? 1 : 2
        var tanks: [[Float]] = []
        for t in 0..<tankCount {
            let spread = t == 0 ? 0 : stereoSpread
            var out = [Float](repeating: 0, count: n)
            combs(send, into: &out, delays: combTunings.map { max(1, Int(Double($0 + spread) * scale)) }, feedback: feedback, damp: damp)
            for tuning in allpassTunings {
                allpass(&out, delay: max(1, Int(Double(tuning + spread) * scale)))
            }
            tanks.append(out)
        }
        if tankCount == 1 { return [tanks[0].map { $0 * (wet1 + wet2) }] }
        var result: [[Float]] = []
        for c in 0..<audio.channelCount {
            // Channels beyond the first two get the average of the tanks.
            let (a, b): (Float, Float) = c == 0 ? (wet1, wet2) : c == 1 ? (wet2, wet1) : ((wet1 + wet2) / 2, (wet1 + wet2) / 2)
            var mixed = [Float](repeating: 0, count: n)
            for i in 0..<n { mixed[i] = a * tanks[0][i] + b * tanks[1][i] }
            result.append(mixed)
        }
        return result
    }

    /// Feedback combs in parallel, each with a one-pole low-pass in the loop; writes their sum to
    /// `out`. All combs advance in one loop over the samples: their recursions are independent, so
    /// the processor can overlap them instead of waiting on one comb's recursion at a time.
    static func combs(_ input: [Float], into out: inout [Float], delays: [Int], feedback: Float, damp: Float) {
        let k = delays.count
        let lines = UnsafeMutablePointer<Float>.allocate(capacity: delays.reduce(0, +))
        lines.initialize(repeating: 0, count: delays.reduce(0, +))
        let start = UnsafeMutablePointer<Int>.allocate(capacity: k), end = UnsafeMutablePointer<Int>.allocate(capacity: k)
        let position = UnsafeMutablePointer<Int>.allocate(capacity: k), store = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { lines.deallocate(); start.deallocate(); end.deallocate(); position.deallocate(); store.deallocate() }
        var offset = 0
        for c in 0..<k {
            start[c] = offset; position[c] = offset; offset += delays[c]; end[c] = offset; store[c] = 0
        }
        let undamp = 1 - damp
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                for i in x.indices {
                    let sample = x[i]
                    var sum: Float = 0
                    for c in 0..<k {
                        let p = position[c]
                        let output = lines[p]
                        let filtered = output * undamp + store[c] * damp
                        store[c] = filtered
                        lines[p] = sample + filtered * feedback
                        position[c] = p + 1 == end[c] ? start[c] : p + 1
                        sum += output
                    }
                    y[i] = sum
                }
            }
        }
    }

    /// Freeverb's allpass (feedback 0.5), in place.
    static func allpass(_ signal: inout [Float], delay: Int) {
        var buffer = [Float](repeating: 0, count: delay)
        var index = 0
        signal.withUnsafeMutableBufferPointer { x in
            buffer.withUnsafeMutableBufferPointer { b in
                for i in x.indices {
                    let delayed = b[index]
                    let input = x[i]
                    x[i] = delayed - input
                    b[index] = input + delayed * 0.5
                    index += 1
                    if index == delay { index = 0 }
                }
            }
        }
    }
}
