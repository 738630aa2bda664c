import Audio
import Foundation

/// Takes a stretch of a recording out and fills it with new material, GAN-style in shape: the
/// generator proposes, the judges (the continuity critic here, and the caller's check that the
/// removed recording can no longer be found) accept or reject, and the generator draws again
/// with a new seed, for at most `maxRounds` rounds.
///
/// The stretch is widened to whole beats; the new material fades in over a short crossfade that
/// ends on the first beat and fades out over one that ends on the last, so the recording's own
/// beats carry on at both joins. Same input, stretch and seed: same output, sample for sample.
public struct SegmentReplacer: Sendable {
    public var generator: SegmentGenerator
    public var critic: ContinuityCritic
    public var maxRounds: Int

    public init(generator: SegmentGenerator = SegmentGenerator(), critic: ContinuityCritic = ContinuityCritic(), maxRounds: Int = 4) {
        self.generator = generator
        self.critic = critic
        self.maxRounds = maxRounds
    }

    /// One proposal and what the judges said about it.
    public struct Round: Sendable, Codable, Equatable {
        public var seed: UInt64
        /// The continuity critic's objections; empty when it passed.
        public var problems: [String]
        /// Whether the caller's judge no longer found the removed recording; nil when not asked
        /// (the critic rejected the proposal first).
        public var recording_gone: Bool?
        public var accepted: Bool { problems.isEmpty && recording_gone == true }
    }

    public struct Outcome: Sendable {
        /// The whole recording with the stretch replaced; nil when no round passed.
        public var audio: AudioBuffer?
        /// The stretch actually replaced, crossfades included, in seconds.
        public var start: Double
        public var end: Double
        public var descriptors: GapDescriptors
        public var rounds: [Round]
        /// What could not be measured and so was not judged (no steady beat, no tonal content).
        public var notes: [String]
    }

    /// The crossfade at each join: an eighth of a beat, 20-60 ms.
    public static func crossfadeSeconds(period: Double) -> Double { min(0.06, max(0.02, period / 8)) }

    /// Replaces `start..<end` (seconds) of `audio`. `grid` is the recording's beat grid (nil when it
    /// has none); `descriptors`, when given, are used instead of measuring the gap (they must
    /// describe the same span). `recordingGone` gets the replaced span of a proposal and answers
    /// whether the removed recording is no longer found in it.
    public func replace(in audio: AudioBuffer, start: Double, end: Double, grid: BeatGrid?, style: String, seed: UInt64,
                        descriptors given: GapDescriptors? = nil,
                        recordingGone: (AudioBuffer) throws -> Bool) throws -> Outcome {
        let rate = Double(audio.sampleRate), duration = audio.duration
        var notes: [String] = []
        if grid == nil { notes.append("no steady beat found: the new material follows 120 BPM and beat alignment is not judged") }
        let beats = grid ?? BeatGrid(period: 0.5, phase: 0)
        let fade = Self.crossfadeSeconds(period: beats.period)
        let first = min(beats.beat(atOrBefore: max(0, start)), duration), last = min(beats.beat(atOrAfter: end), duration)
        let entry = first > fade ? Int(((first - fade) * rate).rounded()) : 0
        let exit = Int((last * rate).rounded())
        let fadeFrames = Int((fade * rate).rounded())
        let gap = entry..<min(exit, audio.frameCount)
        let fadeIn = first > fade ? fadeFrames : 0, fadeOut = exit < audio.frameCount ? fadeFrames : 0
        let joins = [gap.lowerBound..<(gap.lowerBound + fadeIn), (gap.upperBound - fadeOut)..<gap.upperBound].filter { !$0.isEmpty }

        let region = AudioBuffer(channels: audio.channels.map { Array($0[gap]) }, sampleRate: audio.sampleRate)
        let gapStart = Double(entry) / rate
        guard gap.count > 2 * fadeFrames + audio.sampleRate / 2 else {
            notes.append(String(format: "the stretch %.2f-%.2f s is too short to fill with new material", start, end))
            return Outcome(audio: nil, start: gapStart, end: Double(gap.upperBound) / rate, descriptors: GapDescriptors(
                frameCount: gap.count, sampleRate: audio.sampleRate, channels: audio.channelCount, grid: beats,
                key: MusicalKey(tonic: 0, minor: false), loudness: [], style: style, seed: seed), rounds: [], notes: notes)
        }
        let key = MusicAnalysis.key(region)
        if key == nil { notes.append("no tonal content measured: the new material is in C major and the key is not judged") }
        var phase = (beats.phase - gapStart).truncatingRemainder(dividingBy: beats.period)
        if phase < 0 { phase += beats.period }
        var descriptors = given ?? GapDescriptors(
            frameCount: gap.count, sampleRate: audio.sampleRate, channels: audio.channelCount,
            grid: BeatGrid(period: beats.period, phase: phase), key: key ?? MusicalKey(tonic: 0, minor: false),
            loudness: LoudnessMeter.contour(region, blockSeconds: GapDescriptors.contourBlockSeconds), style: style, seed: seed)
        guard descriptors.frameCount == gap.count, descriptors.sampleRate == audio.sampleRate, descriptors.channels == audio.channelCount else {
            throw EditError.notApplicable(operation: "replace", index: 0, reason: "the descriptors given describe a different stretch")
        }

        var rounds: [Round] = []
        var random = SplitMix64(seed: descriptors.seed)
        for round in 0..<max(1, maxRounds) {
            if round > 0 { descriptors.seed = random.next() }
            let material = try generator.generate(descriptors)
            var spliced = audio
            Self.splice(material, into: &spliced, gap: gap, fadeIn: fadeIn, fadeOut: fadeOut)
            var verdict = Round(seed: descriptors.seed, problems: critic.problems(
                generated: material, descriptors: descriptors, checkBeat: grid != nil, checkKey: key != nil,
                original: audio, spliced: spliced, gap: gap, joins: joins), recording_gone: nil)
            if verdict.problems.isEmpty {
                verdict.recording_gone = try recordingGone(AudioBuffer(channels: spliced.channels.map { Array($0[gap]) }, sampleRate: audio.sampleRate))
            }
            rounds.append(verdict)
            if verdict.accepted {
                return Outcome(audio: spliced, start: gapStart, end: Double(gap.upperBound) / rate, descriptors: descriptors, rounds: rounds, notes: notes)
            }
        }
        return Outcome(audio: nil, start: gapStart, end: Double(gap.upperBound) / rate, descriptors: descriptors, rounds: rounds, notes: notes)
    }

    /// Writes `material` over `gap`, with equal-power (sine) crossfades of the given lengths at its ends.
    static func splice(_ material: AudioBuffer, into audio: inout AudioBuffer, gap: Range<Int>, fadeIn: Int, fadeOut: Int) {
        for c in audio.channels.indices {
            for k in 0..<gap.count {
                let i = gap.lowerBound + k
                var newWeight = 1.0
                if k < fadeIn { newWeight = sin(0.5 * .pi * (Double(k) + 0.5) / Double(fadeIn)) }
                let fromEnd = gap.count - 1 - k
                if fromEnd < fadeOut { newWeight = sin(0.5 * .pi * (Double(fromEnd) + 0.5) / Double(fadeOut)) }
                let oldWeight = (1 - newWeight * newWeight).squareRoot()
                audio.channels[c][i] = Float(newWeight) * material.channels[c][k] + Float(oldWeight) * audio.channels[c][i]
            }
        }
    }
}
