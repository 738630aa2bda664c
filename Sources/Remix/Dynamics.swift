import Audio
import Foundation
import Spectral

/// Level-dependent gain: a feed-forward compressor and a look-ahead peak limiter. Both link the
/// channels (one gain for all) so the stereo image does not move.
enum Dynamics {
    /// Peak-sensing compressor with a soft knee; attack and release smooth the gain reduction in dB.
    static func compress(_ audio: inout AudioBuffer, _ s: CompressorSettings) {
        let rate = Double(audio.sampleRate)
        let attack = Float(exp(-1 / (s.attackMilliseconds * 0.001 * rate)))
        let release = Float(exp(-1 / (s.releaseMilliseconds * 0.001 * rate)))
        let threshold = Float(s.thresholdDecibels), knee = Float(s.kneeDecibels)
        let slope = Float(1 - 1 / s.ratio), makeup = Float(s.makeupDecibels)
        let n = audio.frameCount
        var gain = [Float](repeating: 1, count: n)
        let peak = linkedPeak(audio)
        var reduction: Float = 0 // dB, >= 0
        peak.withUnsafeBufferPointer { p in
            gain.withUnsafeMutableBufferPointer { g in
                for i in 0..<n {
                    let level = FastMath.decibels(max(p[i], 1e-9))
                    let over = level - threshold
                    var target: Float = 0
                    if over >= knee / 2 { target = slope * over } else if knee > 0, over > -knee / 2 {
                        let x = over + knee / 2
                        target = slope * x * x / (2 * knee)
                    }
                    let coefficient = target > reduction ? attack : release
                    reduction = target + coefficient * (reduction - target)
                    g[i] = FastMath.amplitude(decibels: makeup - reduction)
                }
            }
        }
        apply(gain, to: &audio)
    }

    /// Keeps sample peaks at or under `ceiling` dBFS: the gain follows the minimum needed over the
    /// next `lookahead` samples (so it is down before a peak arrives) and recovers with `release`.
    static func limit(_ audio: inout AudioBuffer, ceilingDecibels: Double, releaseMilliseconds: Double) {
        let rate = Double(audio.sampleRate)
        let ceiling = Float(pow(10, ceilingDecibels / 20))
        let lookahead = max(1, Int(0.005 * rate))
        let release = Float(exp(-1 / (releaseMilliseconds * 0.001 * rate)))
        let n = audio.frameCount
        let peak = linkedPeak(audio)
        // Gain each sample needs on its own.
        let need = peak.map { $0 > ceiling ? ceiling / $0 : 1 }
        // Minimum over the next `lookahead` samples, then a moving average over as many: every
        // averaged value comes from windows that contain the sample, so the gain is never above what
        // that sample needs, and it ramps down over the look-ahead instead of stepping.
        let minimum = slidingMinimum(need, window: lookahead)
        var gain = [Float](repeating: 1, count: n)
        var sum = Double(lookahead) // unity gain before the signal
        var current: Float = 1
        for i in 0..<n {
            sum += Double(minimum[i]) - (i >= lookahead ? Double(minimum[i - lookahead]) : 1)
            let target = Float(sum / Double(lookahead))
            current = target < current ? target : target + release * (current - target)
            gain[i] = current
        }
        apply(gain, to: &audio)
        // Safety net for the residue of the smoothing: hard clip at the ceiling.
        let upper = SIMD8<Float>(repeating: ceiling), lower = -upper
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                VectorOps.transform(x) { VectorOps.clamp($0, lower, upper) }
            }
        }
    }

    /// Largest absolute sample across channels at each frame.
    static func linkedPeak(_ audio: AudioBuffer) -> [Float] {
        var peak = [Float](repeating: 0, count: audio.frameCount)
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                peak.withUnsafeMutableBufferPointer { p in
                    VectorOps.accumulateMaximumMagnitude(x.baseAddress!, into: p.baseAddress!, count: x.count)
                }
            }
        }
        return peak
    }

    /// out[i] = min(x[i..<i+window]) (the window shrinks at the end), in O(n) without branches
    /// (van Herk / Gil-Werman): within blocks of `window`, minima from each block's start and from
    /// its end; any window spans at most two blocks, and its minimum is the smaller of the two.
    static func slidingMinimum(_ x: [Float], window: Int) -> [Float] {
        let n = x.count, w = max(1, window)
        let length = (n + w + w - 1) / w * w
        var fromStart = [Float](repeating: .greatestFiniteMagnitude, count: length)
        fromStart.replaceSubrange(0..<n, with: x)
        var fromEnd = fromStart
        for block in stride(from: 0, to: length, by: w) {
            for i in (block + 1)..<(block + w) { fromStart[i] = min(fromStart[i], fromStart[i - 1]) }
            for i in stride(from: block + w - 2, through: block, by: -1) { fromEnd[i] = min(fromEnd[i], fromEnd[i + 1]) }
        }
        return (0..<n).map { i in min(fromEnd[i], fromStart[i + w - 1]) }
    }

    static func apply(_ gain: [Float], to audio: inout AudioBuffer) {
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                gain.withUnsafeBufferPointer { g in
                    VectorOps.multiply(x.baseAddress!, g.baseAddress!, into: x.baseAddress!, count: x.count)
                }
            }
        }
    }
}
