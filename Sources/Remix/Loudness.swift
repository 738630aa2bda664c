import Audio
import Foundation

/// Integrated loudness after ITU-R BS.1770-4 (EBU R128): K-weighting, mean square per channel over
/// 400 ms blocks every 100 ms, an absolute gate at -70 LUFS and a relative gate 10 LU below the
/// loudness of the blocks that pass the first.
public enum LoudnessMeter {
    /// The K-weighting pre-filter (high shelf) and RLB high-pass at any rate, with libebur128's
    /// analogue prototype parameters; at 48 kHz they give the coefficients printed in BS.1770.
    static func kWeighting(sampleRate: Double) -> [Biquad] {
        var f0 = 1681.974450955533, q = 0.7071752369554196
        let g = 3.999843853973347
        var k = tan(Double.pi * f0 / sampleRate)
        let vh = pow(10, g / 20), vb = pow(vh, 0.4996667741545416)
        let shelf = Biquad(b0: vh + vb * k / q + k * k, b1: 2 * (k * k - vh), b2: vh - vb * k / q + k * k,
                           a0: 1 + k / q + k * k, a1: 2 * (k * k - 1), a2: 1 - k / q + k * k)
        f0 = 38.13547087602444; q = 0.5003270373238773
        k = tan(Double.pi * f0 / sampleRate)
        let highpass = Biquad(b0: 1, b1: -2, b2: 1, a0: 1, a1: 2 * (k * k - 1) / (1 + k / q + k * k),
                              a2: (1 - k / q + k * k) / (1 + k / q + k * k))
        return [shelf, highpass]
    }

    /// BS.1770 channel weights: 1 for front channels, 1.41 for surrounds, 0 for LFE (5.1 order L R C LFE Ls Rs).
    static func weight(channel: Int, of count: Int) -> Double {
        guard count == 6 else { return 1 }
        return channel == 3 ? 0 : channel >= 4 ? 1.41 : 1
    }

    /// Ungated K-weighted loudness of consecutive blocks of `blockSeconds` (the last one may be
    /// shorter), in LUFS, floored at -70 so silence is a number.
    public static func contour(_ audio: AudioBuffer, blockSeconds: Double) -> [Double] {
        let step = max(1, Int((blockSeconds * Double(audio.sampleRate)).rounded()))
        let blocks = max(1, (audio.frameCount + step - 1) / step)
        var energy = [Double](repeating: 0, count: blocks)
        var weighted = audio.channels
        Biquad.filter(&weighted, through: kWeighting(sampleRate: Double(audio.sampleRate)))
        for (c, channel) in weighted.enumerated() {
            let w = weight(channel: c, of: audio.channelCount)
            channel.withUnsafeBufferPointer { x in
                for i in x.indices { energy[i / step] += w * Double(x[i]) * Double(x[i]) }
            }
        }
        return energy.indices.map { b in
            let length = min(step, audio.frameCount - b * step)
            return max(-70, -0.691 + 10 * log10(max(energy[b] / Double(max(length, 1)), 1e-12)))
        }
    }

    /// Integrated loudness in LUFS; -infinity for silence. Signals shorter than one 400 ms block
    /// are measured as one block.
    public static func integratedLoudness(_ audio: AudioBuffer) -> Double {
        let rate = Double(audio.sampleRate)
        let step = max(1, Int((0.1 * rate).rounded()))
        let segments = max(1, audio.frameCount / step)
        // Weighted sum of squares of every 100 ms segment, summed over channels, measured as the
        // K-weighting filter runs (the filtered signal is never stored). A recording shorter than a
        // segment is one segment; frames after the last whole segment are not counted.
        let n = audio.frameCount
        let counted = n < step ? n : segments * step
        let sums = Biquad.energy(audio.channels, through: kWeighting(sampleRate: rate), step: max(1, min(step, counted)), count: counted)
        var energy = [Double](repeating: 0, count: segments)
        for (c, channel) in sums.enumerated() {
            let w = weight(channel: c, of: audio.channelCount)
            if w == 0 { continue }
            for s in 0..<segments { energy[s] += w * channel[s] }
        }
        let blockLength = min(4, segments)
        let samplesPerBlock = Double(audio.frameCount < step ? max(audio.frameCount, 1) : blockLength * step)
        var blocks: [Double] = []
        for b in 0...(segments - blockLength) {
            var z = 0.0
            for s in b..<(b + blockLength) { z += energy[s] }
            blocks.append(z / samplesPerBlock)
        }
        func loudness(_ z: Double) -> Double { -0.691 + 10 * log10(z) }
        let absolute = blocks.filter { loudness($0) > -70 }
        if absolute.isEmpty { return -.infinity }
        let relativeGate = loudness(absolute.reduce(0, +) / Double(absolute.count)) - 10
        let gated = absolute.filter { loudness($0) > relativeGate }
        return loudness(gated.reduce(0, +) / Double(gated.count))
    }
}
