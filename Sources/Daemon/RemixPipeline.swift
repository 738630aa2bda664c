import Audio
import Foundation
import Registry
import Remix
import Rights
import Watermark

/// What a registry-checked remix is asked to do.
public struct RemixRequest: Sendable {
    public var edit: Edit
    /// The preset that voices and colours new material in replaced stretches; nil for the plain voicing.
    public var style: String?
    /// The style's length-preserving effects, applied to new material.
    public var colour: [EditOperation]
    public var use: Use
    public var territory: String
    public var at: Date
    /// Seeds the first proposal of every replacement; later rounds draw new seeds from it.
    public var seed: UInt64

    public init(edit: Edit, style: String? = nil, colour: [EditOperation] = [], use: Use = .remix, territory: String,
                at: Date = Date(), seed: UInt64 = 1) {
        self.edit = edit
        self.style = style
        self.colour = colour
        self.use = use
        self.territory = territory
        self.at = at
        self.seed = seed
    }
}

/// How a replaced stretch was made and judged.
public struct ReplacementReport: Codable, Sendable, Equatable {
    /// The stretch of the remix replaced: widened to whole beats, crossfades included.
    public let start_s: Double
    public let end_s: Double
    /// The descriptors the generator was given (and nothing else).
    public let tempo_bpm: Double
    public let key: String
    public let loudness_lufs: [Double]
    public let style: String
    /// Every proposal, the last one accepted when `accepted`.
    public let rounds: [SegmentReplacer.Round]
    public let accepted: Bool
    /// What could not be measured and so was not judged.
    public let notes: [String]
}

/// One stretch of the rendered remix: what verification found and decided, and what was done with it.
public struct RemixSegment: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// Released as rendered (allow, claim, a replace fallen back to allow or claim, or no master).
        case kept
        /// The master's recording was taken out and new material put in its place.
        case replaced
        /// The reason the remix was refused.
        case refused
        /// Not worked on, because another stretch refused the remix.
        case skipped
    }
    public let segment: VerifiedSegment
    public let outcome: Outcome
    /// The action that applied in the end: the verified one, or a replace's fallback.
    public let applied: Action
    public let replacement: ReplacementReport?

    // The verified segment's keys, then these, in one object.
    public func encode(to encoder: any Encoder) throws {
        try segment.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(applied, forKey: .applied)
        try c.encode(replacement, forKey: .replacement)
    }

    enum CodingKeys: String, CodingKey { case outcome, applied, replacement }

    public init(segment: VerifiedSegment, outcome: Outcome, applied: Action, replacement: ReplacementReport?) {
        self.segment = segment
        self.outcome = outcome
        self.applied = applied
        self.replacement = replacement
    }

    public init(from decoder: any Decoder) throws {
        segment = try VerifiedSegment(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outcome = try c.decode(Outcome.self, forKey: .outcome)
        applied = try c.decode(Action.self, forKey: .applied)
        replacement = try c.decodeIfPresent(ReplacementReport.self, forKey: .replacement)
    }
}

/// What `POST /v1/remix` answers (in the `Tracemark-Report` header, or in the 451 error body).
public struct RemixReport: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public let track_id: Int32
        /// 0 when the default policy decided.
        public let policy_version: Int32
    }
    /// The watermark's serial; null when the remix was refused.
    public let serial: UInt64?
    public let verification_id: Int64
    /// The strictest action verification found, before replacement.
    public let decision: Action
    public let released: Bool
    public let use: Use
    public let territory: String
    public let at: Date
    public let style: String?
    public let seed: UInt64
    public let duration_s: Double
    public let input_sha256: String
    /// Null when the remix was refused.
    public let output_sha256: String?
    public let segments: [RemixSegment]
    /// Masters whose recording is in the released audio, with the policy versions that allowed them.
    public let sources: [Source]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(serial, forKey: .serial)
        try c.encode(verification_id, forKey: .verification_id)
        try c.encode(decision, forKey: .decision)
        try c.encode(released, forKey: .released)
        try c.encode(use, forKey: .use)
        try c.encode(territory, forKey: .territory)
        try c.encode(at, forKey: .at)
        try c.encode(style, forKey: .style)
        try c.encode(seed, forKey: .seed)
        try c.encode(duration_s, forKey: .duration_s)
        try c.encode(input_sha256, forKey: .input_sha256)
        try c.encode(output_sha256, forKey: .output_sha256)
        try c.encode(segments, forKey: .segments)
        try c.encode(sources, forKey: .sources)
    }
}

/// Where a remix's time went, for the `Server-Timing` header and the benchmark.
public struct RemixTimings: Sendable {
    public var render: Duration = .zero
    /// Verification of the rendered remix: analysis, lookup, the recorded verification.
    public var verify: Duration = .zero
    /// Every replaced stretch: descriptors, generation, judging, every round.
    public var replace: Duration = .zero
    /// Watermark embedding, encoding and the ledger transaction.
    public var issue: Duration = .zero
}

/// The outcome of a remix: the report, and the marked audio when it was released.
public struct RemixResult: Sendable {
    public let report: RemixReport
    public let output: [UInt8]?
    public let timings: RemixTimings
}

/// Render, verify stretch by stretch, replace what must be replaced, refuse what is blocked,
/// watermark and record. Blocking: run it on a thread meant for that.
///
/// Verification runs on the rendered remix, so a master is found where the listener would hear
/// it. A `block` anywhere refuses the remix (the verification is recorded, the ledger is not
/// touched). Each `replace` stretch (neighbouring segments of the same master merged) goes to the
/// `SegmentReplacer`, whose recording judge is the registry's own matcher at its normal
/// threshold; when no proposal passes, the policy's fallback applies, and a fallback of `block`
/// refuses the remix. What is released carries a watermark whose payload lists the kept masters,
/// the replaced stretches and the verification.
public struct RemixPipeline: Sendable {
    /// A replace stretch is widened by this much on each side before it is snapped to beats:
    /// verified segment boundaries are found to within about this, and the master must not
    /// survive at the edges of its stretch.
    public static let boundaryMargin = 0.5

    public var verifier: Verifier
    public var maxRounds: Int
    let identifier = Identifier()

    public init(verifier: Verifier = Verifier(), maxRounds: Int = 4) {
        self.verifier = verifier
        self.maxRounds = maxRounds
    }

    public func run(_ input: consuming AudioBuffer, inputSHA256: [UInt8], request: RemixRequest, peer: Peer?, keys: IssuingKeys,
                    db: PostgresConnection, encode: (AudioBuffer) throws -> [UInt8]) throws -> RemixResult {
        let clock = ContinuousClock()
        var timings = RemixTimings()
        var started = clock.now
        var audio = try Renderer().render(request.edit, input)
        try Issuer.check(audio, purpose: Self.purpose(request), sources: [])
        timings.render = clock.now - started
        started = clock.now
        var identification = IdentificationTimings()
        let decoder = identifier.analysis.decoder
        let analysed = try decoder.analyse(audio)
        let verified = try verifier.verify(analysed, audioSHA256: inputSHA256, use: request.use,
                                           territory: request.territory, at: request.at, peer: peer, db: db, timings: &identification)
        timings.verify = clock.now - started
        started = clock.now
        var segments: [RemixSegment] = []
        var replacements: [ReplacedSegment] = []
        lazy var grid = MusicAnalysis.beatGrid(mono: analysed.samples, sampleRate: analysed.sampleRate)
        let refusing = verified.segments.contains { $0.action == .block }
        var index = 0
        while index < verified.segments.count {
            let segment = verified.segments[index]
            // A replace stretch spans the neighbouring segments of the same master.
            var last = index
            while segment.action == .replace, last + 1 < verified.segments.count,
                  verified.segments[last + 1].action == .replace, verified.segments[last + 1].track?.track_id == segment.track?.track_id {
                last += 1
            }
            defer { index = last + 1 }
            let run = verified.segments[index...last]
            switch segment.action {
            case .allow, .claim:
                segments += run.map { RemixSegment(segment: $0, outcome: .kept, applied: $0.action, replacement: nil) }
            case .block:
                segments += run.map { RemixSegment(segment: $0, outcome: .refused, applied: .block, replacement: nil) }
            case .replace where refusing:
                // Refused anyway: spend no time on new material.
                segments += run.map { RemixSegment(segment: $0, outcome: .skipped, applied: .replace, replacement: nil) }
            case .replace:
                guard let track = segment.track?.track_id else { continue }
                let replacer = SegmentReplacer(generator: SegmentGenerator(colour: request.colour), maxRounds: maxRounds)
                let seed = request.seed &+ UInt64(replacements.count) &* 0x9E37_79B9_7F4A_7C15
                let identifier = self.identifier
                let outcome = try replacer.replace(
                    in: audio, start: segment.start_s - Self.boundaryMargin, end: verified.segments[last].end_s + Self.boundaryMargin, grid: grid,
                    style: request.style ?? "default", seed: seed) { span in
                        var timings = IdentificationTimings()
                        let answer = try identifier.identify(try decoder.analyse(span), top: 5, catalog: Catalog(db), timings: &timings)
                        return !answer.matches.contains { $0.track_id == track }
                    }
                let d = outcome.descriptors
                let report = ReplacementReport(
                    start_s: Self.milliseconds(outcome.start), end_s: Self.milliseconds(outcome.end),
                    tempo_bpm: (d.grid.beatsPerMinute * 10).rounded() / 10, key: d.key.description,
                    loudness_lufs: d.loudness.map { ($0 * 10).rounded() / 10 }, style: d.style,
                    rounds: outcome.rounds, accepted: outcome.audio != nil, notes: outcome.notes)
                if let replaced = outcome.audio {
                    audio = replaced
                    replacements.append(ReplacedSegment(
                        trackID: Int64(track), policyVersion: Int64(segment.policy?.version ?? 0),
                        startMilliseconds: UInt32((outcome.start * 1000).rounded()), endMilliseconds: UInt32((outcome.end * 1000).rounded())))
                    segments += run.map { RemixSegment(segment: $0, outcome: .replaced, applied: .replace, replacement: report) }
                } else {
                    let fallback = segment.replace_fallback ?? .block
                    segments += run.map { RemixSegment(segment: $0, outcome: fallback == .block ? .refused : .kept, applied: fallback, replacement: report) }
                }
            }
        }
        let released = !segments.contains { $0.outcome == .refused }
        var sources: [RemixReport.Source] = []
        for s in segments where s.outcome == .kept {
            guard let track = s.segment.track?.track_id else { continue }
            let source = RemixReport.Source(track_id: track, policy_version: s.segment.policy?.version ?? 0)
            if !sources.contains(source) { sources.append(source) }
        }
        func report(serial: UInt64?, output: [UInt8]?) -> RemixReport {
            RemixReport(serial: serial, verification_id: verified.verification_id, decision: verified.decision, released: released,
                        use: request.use, territory: request.territory, at: request.at, style: request.style, seed: request.seed,
                        duration_s: Self.milliseconds(audio.duration), input_sha256: ContentDigest.hex(inputSHA256),
                        output_sha256: output.map { ContentDigest.hex(ContentDigest.sha256($0)) }, segments: segments, sources: sources)
        }
        timings.replace = clock.now - started
        guard released else { return RemixResult(report: report(serial: nil, output: nil), output: nil, timings: timings) }
        started = clock.now
        let issued = try Issuer(keys: keys).issue(
            audio, inputSHA256: inputSHA256, purpose: Self.purpose(request), requesterUID: peer.map { UInt32(bitPattern: $0.uid) } ?? UInt32.max,
            sources: sources.map { SourceTrack(trackID: Int64($0.track_id), policyVersion: Int64($0.policy_version)) },
            replacements: replacements, verificationID: verified.verification_id, db: db, encode: encode)
        timings.issue = clock.now - started
        return RemixResult(report: report(serial: issued.serial, output: issued.output), output: issued.output, timings: timings)
    }

    static func purpose(_ request: RemixRequest) -> String {
        "\(request.use.rawValue) in \(request.territory)" + (request.style.map { " (style \($0))" } ?? "")
    }

    static func milliseconds(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
}
