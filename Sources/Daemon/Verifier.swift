import Audio
import Fingerprint
import Foundation
import Registry
import Rights

/// One stretch of a verified query and what the rights say about it.
public struct VerifiedSegment: Codable, Sendable, Equatable {
    public struct Policy: Codable, Sendable, Equatable {
        public let id: Int32
        public let version: Int32
        public let holder: String
    }
    public let start_s: Double
    public let end_s: Double
    /// The master found in this stretch, with the stretch's agreeing hashes; null when none was.
    public let track: TrackMatch?
    public let action: Action
    public let reason: String
    /// The policy version that decided; null for the default policy and for unknown audio.
    public let policy: Policy?
    /// What a `replace` becomes when no acceptable replacement can be made.
    public let replace_fallback: Action?

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(start_s, forKey: .start_s)
        try c.encode(end_s, forKey: .end_s)
        try c.encode(track, forKey: .track)
        try c.encode(action, forKey: .action)
        try c.encode(reason, forKey: .reason)
        try c.encode(policy, forKey: .policy)
        try c.encode(replace_fallback, forKey: .replace_fallback)
    }
}

public struct VerifyAnswer: Codable, Sendable, Equatable {
    public let verification_id: Int64
    /// The strictest action of all segments.
    public let decision: Action
    public let use: Use
    public let territory: String
    public let at: Date
    public let audio_sha256: String
    public let segments: [VerifiedSegment]
}

/// Who asked, from the socket's peer credentials (SO_PEERCRED).
public struct Peer: Sendable, Equatable {
    public let uid: Int32
    public let gid: Int32
    public let pid: Int32

    public init(uid: Int32, gid: Int32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// Matches a query stretch by stretch, decides each stretch under the rights in force at the
/// time asked about, and records the verification. Blocking: run it on a thread meant for that.
public struct Verifier: Sendable {
    public let analysis = Analysis()
    public var defaultPolicy: DefaultPolicy

    public init(defaultPolicy: DefaultPolicy = .standard) { self.defaultPolicy = defaultPolicy }

    public func verify(_ audio: DecodedAudio, audioSHA256: [UInt8], use: Use, territory: String, at time: Date,
                       peer: Peer?, db: PostgresConnection, timings: inout IdentificationTimings) throws -> VerifyAnswer {
        let clock = ContinuousClock()
        let parameters = analysis.parameters
        var start = clock.now
        let query = analysis.query(of: audio)
        timings.fingerprint += clock.now - start
        start = clock.now
        let catalog = Catalog(db)
        let frameCount = query.frameCount
        let spans = Matcher(parameters: parameters).segments(
            try catalog.hits(for: query), query: query, catalog: try catalog.extent(secondsPerFrame: parameters.secondsPerFrame))
        let tracks = try catalog.tracks(ids: Array(Set(spans.compactMap { $0.match?.trackID })))
        let rights = RightsStore(db)
        let policies = try rights.policiesInForce(for: Array(tracks.values), at: time)

        func seconds(_ frames: Int32) -> Double { (Double(frames) * parameters.secondsPerFrame * 1000).rounded() / 1000 }
        let duration = (audio.duration * 1000).rounded() / 1000
        let distinctHashes = query.landmarks.count
        let segments = spans.map { span -> VerifiedSegment in
            let start = seconds(span.frames.lowerBound)
            let end = span.frames.upperBound >= frameCount ? duration : seconds(span.frames.upperBound)
            guard let match = span.match, let track = tracks[match.trackID] else {
                return VerifiedSegment(start_s: start, end_s: end, track: nil, action: .allow,
                                       reason: "no catalog recording found in this stretch", policy: nil, replace_fallback: nil)
            }
            let decision = PolicyEvaluator.decide(use, territory: territory, at: time, policies: policies[track.id] ?? [],
                                                  default: defaultPolicy)
            return VerifiedSegment(
                start_s: start, end_s: end,
                track: TrackMatch(match, track: track, secondsPerFrame: parameters.secondsPerFrame, queryHashes: distinctHashes),
                action: decision.action, reason: decision.reason,
                policy: decision.policyID.map { VerifiedSegment.Policy(id: $0, version: decision.policyVersion ?? 0, holder: decision.holder ?? "") },
                replace_fallback: decision.replaceFallback)
        }
        let decision = PolicyEvaluator.strictest(segments.map(\.action))
        let sha = audioSHA256.map { String(format: "%02x", $0) }.joined()
        let id = try rights.recordVerification(
            peerUID: peer?.uid, peerGID: peer?.gid, peerPID: peer?.pid, use: use.rawValue, territory: territory,
            evaluatedAt: time, audioSHA256: audioSHA256, decision: decision.rawValue,
            segmentsJSON: String(decoding: try APIJSON.encode(segments), as: UTF8.self))
        timings.lookup += clock.now - start
        return VerifyAnswer(verification_id: id, decision: decision, use: use, territory: territory, at: time,
                            audio_sha256: sha, segments: segments)
    }
}
