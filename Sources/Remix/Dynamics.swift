import Audio
import Foundation
import Spectral

/// Level-dependent gain: a feed-forward compressor and a look-ahead peak limiter. Both link the
/// channels (one gain for all) so the stereo image does not move.
enum Dynamics {
    /// Frames per block: dynamics run block by block, so memory stays at a block's worth of gains.
    static let blockFrames = 8192

    /// Peak-sensing compressor with a soft knee; attack and release smooth the gain reduction in dB.
    static func compress(_ audio: inout AudioBuffer, _ s: CompressorSettings) {
        let rate = Double(audio.sampleRate)
        let attack = Float(exp(-1 / (s.attackMilliseconds * 0.001 * rate)))
        let release = Float(exp(-1 / (s.releaseMilliseconds * 0.001 * rate)))
        let threshold = Float(s.thresholdDecibels), knee = Float(s.kneeDecibels)
        let slope = Float(1 - 1 / s.ratio), makeup = Float(s.makeupDecibels)
        var gain = [Float](repeating: 1, count: blockFrames)
        var peak = [Float](repeating: 0, count: blockFrames)
        var reduction: Float = 0 // dB, >= 0
        typealias Lanes = SIMD8<Float>
        let halfKnee = Lanes(repeating: knee / 2), slopes = Lanes(repeating: slope), thresholds = Lanes(repeating: threshold)
        let floor = Lanes(repeating: 1e-9), zero = Lanes.zero, kneeWidth = Lanes(repeating: 2 * knee)
        for block in stride(from: 0, to: audio.frameCount, by: blockFrames) {
            let frames = block..<min(audio.frameCount, block + blockFrames)
            linkedPeak(audio, frames, into: &peak)
            peak.withUnsafeMutableBufferPointer { p in
                gain.withUnsafeMutableBufferPointer { g in
                    let count = frames.count
                    // The static curve has no recursion: eight frames at a time (the gain reduction each
                    // frame asks for, in dB), then the attack/release smoothing, which is serial, then
                    // back to amplitude eight at a time. Same operations as frame by frame, same result.
                    VectorOps.transform(UnsafeMutableBufferPointer(rebasing: p[0..<count])) { level in
                        let over = FastMath.decibels(VectorOps.maximum(level, floor)) - thresholds
                        let x = over + halfKnee
                        let soft = knee > 0 ? (slopes * x * x / kneeWidth).replacing(with: zero, where: over .<= -halfKnee) : zero
                        return soft.replacing(with: slopes * over, where: over .>= halfKnee)
                    }
                    for i in 0..<count {
                        let target = p[i]
                        let coefficient = target > reduction ? attack : release
                        reduction = target + coefficient * (reduction - target)
                        g[i] = makeup - reduction
                    }
                    VectorOps.transform(UnsafeMutableBufferPointer(rebasing: g[0..<count])) { FastMath.amplitude(decibels: $0) }
                }
            }
            apply(gain, to: &audio, frames)
        }
    }

    /// Keeps sample peaks at or under `ceiling` dBFS: the gain follows the minimum needed over the
    /// next `lookahead` samples (so it is down before a peak arrives) and recovers with `release`.
    static func limit(_ audio: inout AudioBuffer, ceilingDecibels: Double, releaseMilliseconds: Double) {
        let rate = Double(audio.sampleRate)
        let ceiling = Float(pow(10, ceilingDecibels / 20))
        let lookahead = max(1, Int(0.005 * rate))
        let release = Float(exp(-1 / (releaseMilliseconds * 0.001 * rate)))
        let n = audio.frameCount
        let block = max(blockFrames, lookahead)
        var gain = [Float](repeating: 1, count: block)
        // The minima of the `lookahead` frames before the block, for the moving average.
        var history = [Float](repeating: 1, count: lookahead)
        var sum = Double(lookahead) // unity gain before the signal
        var current: Float = 1
        let upper = SIMD8<Float>(repeating: ceiling), lower = -upper
        // Work arrays for a block and its look-ahead, made once.
        var need = [Float](repeating: 0, count: block + lookahead)
        var minimum = need
        var scratch = SlidingMinimumScratch()
        for start in stride(from: 0, to: n, by: block) {
            let frames = start..<min(n, start + block)
            let span = min(n, frames.upperBound + lookahead - 1) - start
            // Gain each frame needs on its own, over the block and the look-ahead past it.
            linkedPeak(audio, start..<(start + span), into: &need)
            let ceilings = SIMD8<Float>(repeating: ceiling), one = SIMD8<Float>(repeating: 1)
            need.withUnsafeMutableBufferPointer { x in
                VectorOps.transform(UnsafeMutableBufferPointer(rebasing: x[0..<span])) { p in
                    (ceilings / p).replacing(with: one, where: .!(p .> ceilings))
                }
            }
            // Minimum over the next `lookahead` frames, then a moving average over as many: every
            // averaged value comes from windows that contain the frame, so the gain is never above
            // what that frame needs, and it ramps down over the look-ahead instead of stepping.
            slidingMinimum(need, count: span, window: lookahead, into: &minimum, scratch: &scratch)
            minimum.withUnsafeBufferPointer { minimum in
                history.withUnsafeBufferPointer { history in
                    gain.withUnsafeMutableBufferPointer { gain in
                        for k in 0..<frames.count {
                            let leaving = k >= lookahead ? minimum[k - lookahead] : history[k]
                            sum += Double(minimum[k]) - (start + k >= lookahead ? Double(leaving) : 1)
                            let target = Float(sum / Double(lookahead))
                            current = target < current ? target : target + release * (current - target)
                            gain[k] = current
                        }
                    }
                }
            }
            if frames.count >= lookahead { history = Array(minimum[(frames.count - lookahead)..<frames.count]) }
            apply(gain, to: &audio, frames)
            // Safety net for the residue of the smoothing: hard clip at the ceiling.
            for c in audio.channels.indices {
                audio.channels[c].withUnsafeMutableBufferPointer { x in
                    VectorOps.transform(UnsafeMutableBufferPointer(rebasing: x[frames])) { VectorOps.clamp($0, lower, upper) }
                }
            }
        }
    }

    /// Largest absolute sample across channels at each frame of `frames`.
    static func linkedPeak(_ audio: AudioBuffer, _ frames: Range<Int>) -> [Float] {
        var peak = [Float](repeating: 0, count: frames.count)
        linkedPeak(audio, frames, into: &peak)
        return peak
    }

    /// The same into the first `frames.count` values of `peak`.
    static func linkedPeak(_ audio: AudioBuffer, _ frames: Range<Int>, into peak: inout [Float]) {
        guard !frames.isEmpty else { return }
        peak.withUnsafeMutableBufferPointer { p in
            for i in 0..<frames.count { p[i] = 0 }
        }
        for channel in audio.channels {
            channel.withUnsafeBufferPointer { x in
                peak.withUnsafeMutableBufferPointer { p in
                    VectorOps.accumulateMaximumMagnitude(x.baseAddress! + frames.lowerBound, into: p.baseAddress!, count: frames.count)
                }
            }
        }
    }

    /// out[i] = min(x[i..<i+window]) (the window shrinks at the end), in O(n) without branches
    /// (van Herk / Gil-Werman): within blocks of `window`, minima from each block's start and from
    /// its end; any window spans at most two blocks, and its minimum is the smaller of the two.
    static func slidingMinimum(_ x: [Float], window: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count), scratch = SlidingMinimumScratch()
        slidingMinimum(x, count: x.count, window: window, into: &out, scratch: &scratch)
        return out
    }

    struct SlidingMinimumScratch {
        var fromStart: [Float] = [], fromEnd: [Float] = []
    }

    /// The same over the first `count` values of `x`, into the first `count` of `out`.
    static func slidingMinimum(_ x: [Float], count n: Int, window: Int, into out: inout [Float], scratch: inout SlidingMinimumScratch) {
        let w = max(1, window)
        let length = (n + w + w - 1) / w * w
        if scratch.fromStart.count < length {
            scratch.fromStart = [Float](repeating: 0, count: length); scratch.fromEnd = scratch.fromStart
        }
        x.withUnsafeBufferPointer { x in
            scratch.fromStart.withUnsafeMutableBufferPointer { fromStart in
                scratch.fromEnd.withUnsafeMutableBufferPointer { fromEnd in
                    out.withUnsafeMutableBufferPointer { out in
                        for i in 0..<n { fromStart[i] = x[i]; fromEnd[i] = x[i] }
                        for i in n..<length { fromStart[i] = .greatestFiniteMagnitude; fromEnd[i] = .greatestFiniteMagnitude }
                        // Running minima kept in a register: through memory, each step waits on the
                        // store of the one before.
                        for block in stride(from: 0, to: length, by: w) {
                            var m = fromStart[block]
                            for i in (block + 1)..<(block + w) { m = min(fromStart[i], m); fromStart[i] = m }
                            m = fromEnd[block + w - 1]
                            for i in stride(from: block + w - 2, through: block, by: -1) { m = min(fromEnd[i], m); fromEnd[i] = m }
                        }
                        for i in 0..<n { out[i] = min(fromEnd[i], fromStart[i + w - 1]) }
                    }
                }
            }
        }
    }

    /// Multiplies `frames` of every channel by `gain` (its first `frames.count` values).
    static func apply(_ gain: [Float], to audio: inout AudioBuffer, _ frames: Range<Int>) {
        guard !frames.isEmpty else { return }
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                gain.withUnsafeBufferPointer { g in
                    let start = x.baseAddress! + frames.lowerBound
                    VectorOps.multiply(start, g.baseAddress!, into: start, count: frames.count)
                }
            }
        }
    }
}
