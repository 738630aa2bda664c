import Foundation

/// A stored landmark that shares its hash with one of the query's probes.
public struct Hit: Sendable, Hashable {
    public let trackID: Int32
    /// Anchor frame in the master.
    public let masterFrame: Int32
    /// Index into `Query.probes`.
    public let probe: Int32
    public init(trackID: Int32, masterFrame: Int32, probe: Int32) {
        self.trackID = trackID
        self.masterFrame = masterFrame
        self.probe = probe
    }
}

/// How big the catalog is, for the no-match rule's count of places a chance match could appear.
public struct CatalogExtent: Sendable, Equatable {
    public let tracks: Int
    public let frames: Int
    public init(tracks: Int, frames: Int) {
        self.tracks = tracks
        self.frames = frames
    }
}

/// A track that the query's hits agree on, with where and how they align.
public struct Candidate: Sendable, Equatable {
    public let trackID: Int32
    /// The master frame where the query's start lies.
    public let offsetFrames: Int32
    /// Distinct master landmarks that agree on the alignment.
    public let score: Int
    /// Distinct hash values among them: the independent coincidences the no-match rule counts
    /// (a sound that repeats matches with the same hash at every repetition).
    public let distinctHashes: Int
    /// First and last anchor frames of the agreeing hits, in the query and in the master.
    public let queryFrames: ClosedRange<Int32>
    public let masterFrames: ClosedRange<Int32>
    /// Master time per query time: above 1 when the query plays faster than the master.
    public let tempoFactor: Double
    /// Semitones the query sits above the master (a 3 % speed-up is about +0.51).
    public let pitchSemitones: Double
    /// Agreeing hits expected by chance on this track, and the chance of at least `score` of them
    /// anywhere in the catalog (the no-match rule's statistic).
    public let expectedByChance: Double
    public let falseMatchProbability: Double

    /// Query frequency per master frequency.
    public var pitchFactor: Double { pow(2, pitchSemitones / 12) }
}

/// Alignment voting: a true match piles its hits onto one (offset, transform) cell; chance hits
/// spread over every cell.
///
/// Each hit votes for (track, pitch shift, time scale, offset), the offset being the master frame
/// where the query's middle lies under that time scale. The best cells are then scored exactly:
/// distinct master landmarks whose hits fall within one transform step and two frames of the cell.
/// The no-match rule is statistical: a track that shares `n` landmarks with the query by chance
/// gets about `n x cell share` of them on any one cell (a Poisson count); the best cell's count
/// of distinct hashes must be so unlikely that it would arise by chance on at most
/// `falseMatchProbability` of queries over all the cells of the whole catalog. The bar thus rises
/// as the catalog grows.
public struct Matcher: Sendable {
    public let parameters: FingerprintParameters

    public init(parameters: FingerprintParameters = .current) { self.parameters = parameters }

    /// Offsets within this many frames of a cell's agree with it.
    static let offsetTolerance: Int32 = 2
    /// Tracks scored exactly, by their best raw cell.
    static let shortlist = 12

    /// Tracks ranked by score, best first, keeping only those that pass the no-match rule.
    public func rank(_ hits: [Hit], query: Query, catalog: CatalogExtent, top: Int = 1) -> [Candidate] {
        let byTrack = Dictionary(grouping: hits, by: \.trackID).filter { $0.value.count >= parameters.minimumVotes }
        var best: [(track: Int32, cell: Cell, votes: Int)] = []
        for (track, trackHits) in byTrack {
            if let (cell, votes) = cells(trackHits, query: query).max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) {
                best.append((track, cell, votes))
            }
        }
        best.sort { ($0.votes, -$0.track) > ($1.votes, -$1.track) }
        let scored = best.prefix(Self.shortlist).compactMap { entry -> Candidate? in
            guard let trackHits = byTrack[entry.track] else { return nil }
            return candidate(entry.track, cell: entry.cell, hits: trackHits, query: query, catalog: catalog)
        }
        let needed = Int32(min(parameters.minimumCoverage * Double(query.frameCount),
                               parameters.coverageSeconds / parameters.secondsPerFrame).rounded(.down))
        return scored
            .filter { accepted($0) && $0.queryFrames.upperBound - $0.queryFrames.lowerBound >= needed }
            .sorted { ($0.score, -$0.trackID) > ($1.score, -$1.trackID) }
            .prefix(max(top, 0))
            .map { $0 }
    }

    func accepted(_ c: Candidate) -> Bool {
        c.score >= parameters.minimumVotes && c.falseMatchProbability <= parameters.falseMatchProbability
    }

    /// A vote cell: transform indices and the offset of the query's middle, in master frames.
    struct Cell: Hashable, Comparable {
        let pitch: UInt8
        let scale: UInt8
        let offset: Int32
        static func < (a: Cell, b: Cell) -> Bool { (a.offset, a.pitch, a.scale) < (b.offset, b.pitch, b.scale) }
    }

    func middleOffset(_ hit: Hit, query: Query) -> (probe: Probe, offset: Float) {
        let probe = query.probes[Int(hit.probe)]
        let time = query.landmarks[Int(probe.landmark)].time - Float(query.frameCount) / 2
        let scale = Float(parameters.timeScales[Int(probe.scaleIndex)])
        return (probe, Float(hit.masterFrame) - scale * time)
    }

    func cells(_ hits: [Hit], query: Query) -> [Cell: Int] {
        var votes: [Cell: Int] = [:]
        for hit in hits {
            let (probe, offset) = middleOffset(hit, query: query)
            votes[Cell(pitch: probe.pitchIndex, scale: probe.scaleIndex, offset: Int32(offset.rounded())), default: 0] += 1
        }
        return votes
    }

    /// Hits of one track that agree with a cell: within one step of its transform and
    /// `offsetTolerance` frames of its offset.
    func agreeing(_ hits: [Hit], cell: Cell, query: Query) -> [Hit] {
        hits.filter { hit in
            let (probe, offset) = middleOffset(hit, query: query)
            return abs(Int(probe.pitchIndex) - Int(cell.pitch)) <= 1 && abs(Int(probe.scaleIndex) - Int(cell.scale)) <= 1
                && abs(offset - Float(cell.offset)) <= Float(Self.offsetTolerance)
        }
    }

    /// Semitones the query sits above the master, from the hits that agree with a cell: the mean,
    /// over distinct master landmarks, of the query anchor's pitch minus the middle of the master
    /// anchor's pitch cell. `pitchReference` puts in-tune notes (A = 440 Hz) in the middle of their
    /// cells, so for tonal music the estimate is unbiased; elsewhere its error averages out over
    /// anchors spread across their cells.
    func pitchShift(_ hits: [Hit], query: Query) -> Double {
        let step = parameters.anchorPitchStep
        let differences = hits.map { hit -> Double in
            let probe = query.probes[Int(hit.probe)]
            return Double(query.landmarks[Int(probe.landmark)].pitch) - (Double(probe.hash.anchorCell) + 0.5) * step
        }
        return differences.isEmpty ? 0 : differences.reduce(0, +) / Double(differences.count)
    }

    /// Exact score, fitted alignment and chance statistics of one track's best cell.
    func candidate(_ track: Int32, cell: Cell, hits: [Hit], query: Query, catalog: CatalogExtent) -> Candidate? {
        candidate(track, cell: cell, agreeing: agreeing(hits, cell: cell, query: query),
                  trackLandmarks: Self.distinctLandmarks(hits, query: query).count, chanceFrames: Int(query.frameCount),
                  query: query, catalog: catalog)
    }

    /// Hits reduced to one per master landmark, however many probes and query analyses reached it.
    static func distinctLandmarks(_ hits: [Hit], query: Query) -> [Hit] {
        var seen = Set<Int64>()
        return hits.filter { seen.insert(Int64($0.masterFrame) << 32 | Int64(query.probes[Int($0.probe)].hash.value)).inserted }
    }

    /// A candidate from the hits that agree on a cell. `trackLandmarks` is how many of the
    /// track's landmarks the query reached anywhere, over `chanceFrames` frames of query.
    func candidate(_ track: Int32, cell: Cell, agreeing agree: [Hit], trackLandmarks: Int, chanceFrames: Int,
                   query: Query, catalog: CatalogExtent) -> Candidate? {
        // Hits arrive in whatever order the database returned them; the fit must not depend on
        // which probe of a master landmark comes first.
        let ordered = agree.sorted { ($0.masterFrame, $0.probe) < ($1.masterFrame, $1.probe) }
        let distinct = Self.distinctLandmarks(ordered, query: query)
        guard !distinct.isEmpty else { return nil }
        let pitch = pitchShift(distinct, query: query)

        // Master frame = offset + scale x query time, fitted by least squares over the agreeing
        // landmarks; the grid's scale when they span too little time to say better.
        let times = distinct.map { Double(query.landmarks[Int(query.probes[Int($0.probe)].landmark)].time) }
        let masters = distinct.map { Double($0.masterFrame) }
        let n = Double(distinct.count)
        let mt = times.reduce(0, +) / n, mm = masters.reduce(0, +) / n
        let stt = times.reduce(0) { $0 + ($1 - mt) * ($1 - mt) }
        let stm = zip(times, masters).reduce(0) { $0 + ($1.0 - mt) * ($1.1 - mm) }
        let gridScale = parameters.timeScales[Int(cell.scale)]
        var scale = gridScale
        if distinct.count >= 6, stt > 0, (times.max()! - times.min()!) >= 1 / parameters.secondsPerFrame {
            let fitted = stm / stt
            if abs(fitted - gridScale) <= 0.03 { scale = fitted }
        }
        let offset = mm - scale * mt

        let q = times.map { Int32($0.rounded()) }, m = distinct.map(\.masterFrame)
        let distinctHashes = Set(distinct.map { query.probes[Int($0.probe)].hash.value }).count
        let (expected, probability) = chance(evidence: distinctHashes, agreeing: distinct.count, trackLandmarks: trackLandmarks,
                                             queryFrames: chanceFrames, catalog: catalog)
        return Candidate(trackID: track, offsetFrames: Int32(offset.rounded()), score: distinct.count, distinctHashes: distinctHashes,
                         queryFrames: q.min()!...q.max()!, masterFrames: m.min()!...m.max()!,
                         tempoFactor: scale, pitchSemitones: pitch,
                         expectedByChance: expected, falseMatchProbability: probability)
    }

    /// Share of a track's chance hits that fall on one cell's window: offsets (+-tolerance over a
    /// track's length plus the query's) times the share of transforms within one step (a chance
    /// landmark reaches about two neighbouring pitch shifts and most time scales). `agreeing`
    /// landmarks agree on the cell, carrying `evidence` distinct hashes: a drum pattern or riff
    /// that repeats within the query agrees with the same hash at every repetition, one
    /// coincidence that the Poisson tail must not count several times.
    func chance(evidence: Int, agreeing: Int, trackLandmarks: Int, queryFrames: Int, catalog: CatalogExtent) -> (expected: Double, probability: Double) {
        let trackFrames = Double(catalog.frames) / Double(max(catalog.tracks, 1))
        let offsets = Double(2 * Self.offsetTolerance + 1)
        let pitches = Double(parameters.pitchShifts.count), scales = Double(parameters.timeScales.count)
        let transformShare = min(1, 4 / pitches) * min(1, 6 / scales)
        // The agreeing landmarks themselves are not chance: only the rest scatter. But a track that
        // the query reached nowhere else is not thereby certain: assume at least as many scattered.
        let scattered = Double(max(trackLandmarks - agreeing, agreeing))
        let expected = parameters.chanceDispersion * scattered * offsets / (trackFrames + Double(queryFrames)) * transformShare
        // Windows in which a chance match could appear, over the whole catalog.
        let windows = max(1, (Double(catalog.frames) + Double(catalog.tracks * queryFrames)) / offsets * pitches * scales / 9)
        return (expected, min(1, windows * Self.poissonTail(atLeast: evidence, mean: expected)))
    }

    /// P(X >= k) for X ~ Poisson(mean), summed from k upwards (accurate in the far tail).
    static func poissonTail(atLeast k: Int, mean: Double) -> Double {
        guard k > 0 else { return 1 }
        guard mean > 0 else { return 0 }
        var term = exp(-mean + Double(k) * log(mean) - lgamma(Double(k) + 1))
        var sum = term
        var i = k
        while term > sum * 1e-12, i < k + 1000 {
            i += 1
            term *= mean / Double(i)
            sum += term
        }
        return min(1, sum)
    }
}
