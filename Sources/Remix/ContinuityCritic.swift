import Audio
import Foundation

/// Judges whether new material sits in its gap as if it belonged there: on the beat, in a
/// compatible key, at the gap's loudness, and joined without a click or a burst. Returns the
/// problems found; none means it passes.
public struct ContinuityCritic: Sendable {
    /// Largest distance between the new material's beats and the grid's.
    public var beatToleranceSeconds = 0.03
    /// Largest difference between a block's loudness and the contour's.
    public var loudnessToleranceLU = 1.0
    /// Contour blocks quieter than this are not held to the tolerance (nothing to match).
    public var quietBlockLUFS = -50.0
    /// The largest sample step inside a join may exceed the largest either source has around it by this factor.
    public var joinStepRatio = 1.5
    /// High-frequency energy inside a join may exceed the loudest either source has around it by this much.
    public var joinBurstDecibels = 3.0

    public init() {}

    /// `generated` is the new material alone; `original` the whole recording before the splice and
    /// `spliced` after it, with the gap at `gap` (frames) and crossfades over `joins`.
    public func problems(generated: AudioBuffer, descriptors d: GapDescriptors, checkBeat: Bool, checkKey: Bool,
                         original: AudioBuffer, spliced: AudioBuffer, gap: Range<Int>, joins: [Range<Int>]) -> [String] {
        var problems: [String] = []
        if checkBeat, let phase = MusicAnalysis.beatPhase(generated, period: d.grid.period) {
            var distance = abs(phase - d.grid.phase).truncatingRemainder(dividingBy: d.grid.period)
            distance = min(distance, d.grid.period - distance)
            if distance > beatToleranceSeconds {
                problems.append(String(format: "beats are %.0f ms off the grid (at most %.0f ms)", distance * 1000, beatToleranceSeconds * 1000))
            }
        }
        if checkKey, let key = MusicAnalysis.key(generated), !key.isCompatible(with: d.key) {
            problems.append("sounds in \(key), not compatible with \(d.key)")
        }
        let region = AudioBuffer(channels: spliced.channels.map { Array($0[gap]) }, sampleRate: spliced.sampleRate)
        let measured = LoudnessMeter.contour(region, blockSeconds: GapDescriptors.contourBlockSeconds)
        for (block, (got, wanted)) in zip(measured, d.loudness).enumerated() where wanted > quietBlockLUFS {
            if abs(got - wanted) > loudnessToleranceLU {
                problems.append(String(format: "second %d is %.1f LUFS against a contour of %.1f (at most %.1f LU apart)",
                                       block, got, wanted, loudnessToleranceLU))
            }
        }
        for join in joins { problems += joinProblems(spliced: spliced, original: original, generated: generated, gap: gap, join: join) }
        return problems
    }

    /// The splice adds a click when a sample step in the join is larger than any step either
    /// source (the recording, the new material) has within 50 ms of it, and a burst when its
    /// high-frequency energy (second difference, 5 ms windows) is above either source's there.
    /// A crossfade of two signals keeps both below their sources' own; a cut does not.
    func joinProblems(spliced: AudioBuffer, original: AudioBuffer, generated: AudioBuffer, gap: Range<Int>, join: Range<Int>) -> [String] {
        let rate = spliced.sampleRate
        let margin = Int(0.05 * Double(rate)), window = max(1, Int(0.005 * Double(rate)))
        let inside = max(2, join.lowerBound - 1)..<min(spliced.frameCount, join.upperBound + 1)
        let around = max(2, join.lowerBound - margin)..<min(spliced.frameCount, join.upperBound + margin)
        // The new material exists only inside the gap.
        let aroundNew = max(gap.lowerBound + 2, around.lowerBound)..<min(gap.upperBound, around.upperBound)
        let shiftedNew = (aroundNew.lowerBound - gap.lowerBound)..<(aroundNew.upperBound - gap.lowerBound)
        func largestStep(_ audio: AudioBuffer, _ range: Range<Int>) -> Float {
            var step: Float = 0
            for channel in audio.channels {
                for i in range where i >= 1 { step = max(step, abs(channel[i] - channel[i - 1])) }
            }
            return step
        }
        func loudestBurst(_ audio: AudioBuffer, _ range: Range<Int>) -> Double {
            var loudest = 0.0
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(range.upperBound, start + window)
                var energy = 0.0
                for channel in audio.channels {
                    for i in start..<end where i >= 2 {
                        let d2 = Double(channel[i] - 2 * channel[i - 1] + channel[i - 2])
                        energy += d2 * d2
                    }
                }
                loudest = max(loudest, energy / Double(end - start))
                start = end
            }
            return loudest
        }
        var problems: [String] = []
        let seconds = String(format: "%.3f s", Double(join.lowerBound) / Double(rate))
        let nearbyStep = max(largestStep(original, around), largestStep(generated, shiftedNew))
        let step = largestStep(spliced, inside)
        if step > max(nearbyStep * Float(joinStepRatio), 1e-4) {
            problems.append(String(format: "the join at %@ has a sample step of %.4f, %.1fx the largest of either source nearby", seconds, step, step / max(nearbyStep, 1e-9)))
        }
        let nearbyBurst = max(loudestBurst(original, around), loudestBurst(generated, shiftedNew)), burst = loudestBurst(spliced, inside)
        if burst > nearbyBurst * pow(10, joinBurstDecibels / 10) && burst > 1e-10 {
            problems.append(String(format: "the join at %@ has a high-frequency burst %.1f dB above either source nearby", seconds, 10 * log10(burst / max(nearbyBurst, 1e-20))))
        }
        return problems
    }
}
