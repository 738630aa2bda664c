import Audio
import Fingerprint
import Pictures
import Foundation
import Registry

/// One master a query was found in: the `matches` items of `POST /v1/match`.
public struct TrackMatch: Codable, Sendable, Equatable {
    public let track_id: Int32
    public let title: String?
    public let artist: String?
    public let isrc: String?
    public let source_path: String
    /// Where the query's start lies in the master.
    public let offset_s: Double
    /// The stretch of the query whose hashes agree, and the same stretch in the master.
    public let query_start_s: Double
    public let query_end_s: Double
    public let master_start_s: Double
    public let master_end_s: Double
    /// Hashes agreeing on the offset.
    public let score: Int
    /// Distinct hash values among them, which the no-match rule counts: a repeating sound agrees
    /// with the same hash each time it repeats.
    public let distinct_hashes: Int
    /// Share of the query's distinct hashes that agree on the offset, 0...1.
    public let confidence: Double
    /// The query's tempo and pitch relative to the master: 1.03 and 1.03 for a 3 % speed-up,
    /// 1.05 and 1 for a 5 % tempo change, 1 and 1.059 for a semitone up.
    public let tempo_factor: Double
    public let pitch_factor: Double
    public let pitch_semitones: Double
    /// Agreeing hashes expected by chance on this track's best alignment, and the chance of an
    /// alignment this strong appearing by chance anywhere in the catalog (docs/fingerprint.md).
    public let expected_by_chance: Double
    public let false_match_probability: Double

    // Metadata the catalog lacks is `null`, not absent: every match has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(track_id, forKey: .track_id)
        try c.encode(title, forKey: .title)
        try c.encode(artist, forKey: .artist)
        try c.encode(isrc, forKey: .isrc)
        try c.encode(source_path, forKey: .source_path)
        try c.encode(offset_s, forKey: .offset_s)
        try c.encode(query_start_s, forKey: .query_start_s)
        try c.encode(query_end_s, forKey: .query_end_s)
        try c.encode(master_start_s, forKey: .master_start_s)
        try c.encode(master_end_s, forKey: .master_end_s)
        try c.encode(score, forKey: .score)
        try c.encode(distinct_hashes, forKey: .distinct_hashes)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(tempo_factor, forKey: .tempo_factor)
        try c.encode(pitch_factor, forKey: .pitch_factor)
        try c.encode(pitch_semitones, forKey: .pitch_semitones)
        try c.encode(expected_by_chance, forKey: .expected_by_chance)
        try c.encode(false_match_probability, forKey: .false_match_probability)
    }
}

extension TrackMatch {
    static func threeDigits(_ x: Double) -> Double { Double(String(format: "%.3g", x)) ?? x }

    /// A matcher candidate in seconds, with what the catalog knows about its track.
    init(_ c: Candidate, track: Track, secondsPerFrame: Double, queryHashes: Int) {
        func seconds(_ frames: Int32) -> Double { (Double(frames) * secondsPerFrame * 1000).rounded() / 1000 }
        self.init(track_id: track.id, title: track.title, artist: track.artist, isrc: track.isrc,
                  source_path: track.sourcePath, offset_s: seconds(c.offsetFrames),
                  query_start_s: seconds(c.queryFrames.lowerBound), query_end_s: seconds(c.queryFrames.upperBound),
                  master_start_s: seconds(c.masterFrames.lowerBound), master_end_s: seconds(c.masterFrames.upperBound),
                  score: c.score, distinct_hashes: c.distinctHashes, confidence: (min(1, Double(c.score) / Double(max(queryHashes, 1))) * 1000).rounded() / 1000,
                  tempo_factor: (c.tempoFactor * 10000).rounded() / 10000, pitch_factor: (c.pitchFactor * 10000).rounded() / 10000,
                  pitch_semitones: (c.pitchSemitones * 100).rounded() / 100,
                  expected_by_chance: Self.threeDigits(c.expectedByChance),
                  false_match_probability: Self.threeDigits(c.falseMatchProbability))
    }
}

/// What was analysed of the query.
public struct QuerySummary: Codable, Sendable, Equatable {
    public let duration_s: Double
    public let hashes: Int
}

public struct MatchAnswer: Codable, Sendable, Equatable {
    public let matches: [TrackMatch]
    public let query: QuerySummary
}

/// Where the time of one identification went, for the `Server-Timing` header and the logs.
public struct IdentificationTimings: Sendable {
    public var decode: Duration = .zero
    public var fingerprint: Duration = .zero
    public var lookup: Duration = .zero

    public init() {}
}

/// Audio in, ranked matches out: decode, fingerprint, look the hashes up, vote. Used by the
/// daemon and by `tracemark match --direct`. Blocking: run it on a thread meant for that.
public struct Identifier: Sendable {
    public let analysis = Analysis()

    public init() {}

    public func identify(_ audio: DecodedAudio, top: Int, catalog: Catalog,
                         timings: inout IdentificationTimings) throws -> MatchAnswer {
        try search(audio, top: top, catalog: catalog, timings: &timings).answer
    }

    /// The answer with the picture of why: the best match's shared hashes, query time against
    /// master time (`Pictures.alignment`). Without a match, the master sharing the most hashes.
    public func explain(_ audio: DecodedAudio, catalog: Catalog, timings: inout IdentificationTimings) throws -> (answer: MatchAnswer, svg: String) {
        let (answer, query, hits, candidates) = try search(audio, top: 1, catalog: catalog, timings: &timings)
        let secondsPerFrame = analysis.parameters.secondsPerFrame
        func queryFrame(_ hit: Hit) -> Double { Double(query.landmarks[Int(query.probes[Int(hit.probe)].landmark)].time) }
        let title: String
        let hashes: [Pictures.AlignedHash]
        if let best = candidates.first, let match = answer.matches.first {
            // A hash agrees when it lies within two frames of the fitted alignment.
            hashes = hits.filter { $0.trackID == best.trackID }.map { hit in
                let expected = Double(best.offsetFrames) + best.tempoFactor * queryFrame(hit)
                return Pictures.AlignedHash(query: queryFrame(hit) * secondsPerFrame, master: Double(hit.masterFrame) * secondsPerFrame,
                                            agrees: abs(Double(hit.masterFrame) - expected) <= 2)
            }
            let name = [match.title, match.artist].compactMap { $0 }.joined(separator: " - ")
            title = "\(name.isEmpty ? "track \(match.track_id)" : "\(name) (track \(match.track_id))"): offset \(String(format: "%.2f", match.offset_s)) s, score \(match.score)"
                + (abs(match.tempo_factor - 1) >= 0.002 ? String(format: ", tempo x%.3f", match.tempo_factor) : "")
        } else {
            var counts: [Int32: Int] = [:]
            for hit in hits { counts[hit.trackID, default: 0] += 1 }
            let closest = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }
            hashes = hits.filter { $0.trackID == closest?.key }.map {
                Pictures.AlignedHash(query: queryFrame($0) * secondsPerFrame, master: Double($0.masterFrame) * secondsPerFrame, agrees: false)
            }
            title = closest.map { "no match: at most \($0.value) hashes in common, with track \($0.key), on no one alignment" } ?? "no match: no hash in common with the catalog"
        }
        return (answer, Pictures.alignment(hashes, title: title))
    }

    private func search(_ audio: DecodedAudio, top: Int, catalog: Catalog, timings: inout IdentificationTimings) throws
        -> (answer: MatchAnswer, query: Query, hits: [Hit], candidates: [Candidate]) {
        let clock = ContinuousClock()
        let parameters = analysis.parameters
        var start = clock.now
        let query = analysis.query(of: audio)
        timings.fingerprint += clock.now - start
        start = clock.now
        let hits = try catalog.hits(for: query)
        let candidates = Matcher(parameters: parameters).rank(
            hits, query: query, catalog: try catalog.extent(secondsPerFrame: parameters.secondsPerFrame), top: top)
        let tracks = try catalog.tracks(ids: candidates.map(\.trackID))
        timings.lookup += clock.now - start

        let matches = candidates.compactMap { c in
            tracks[c.trackID].map { TrackMatch(c, track: $0, secondsPerFrame: parameters.secondsPerFrame, queryHashes: query.landmarks.count) }
        }
        let answer = MatchAnswer(matches: matches,
                                 query: QuerySummary(duration_s: (audio.duration * 1000).rounded() / 1000, hashes: query.landmarks.count))
        return (answer, query, hits, candidates)
    }
}
