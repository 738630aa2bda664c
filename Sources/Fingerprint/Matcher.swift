/// A stored landmark that shares its hash with a landmark of the query.
public struct Hit: Sendable, Hashable {
    public let trackID: Int32
    /// Anchor frame in the master.
    public let masterFrame: Int32
    /// Anchor frame in the query.
    public let queryFrame: Int32
    public init(trackID: Int32, masterFrame: Int32, queryFrame: Int32) {
        self.trackID = trackID
        self.masterFrame = masterFrame
        self.queryFrame = queryFrame
    }
}

/// A track that the query's hits agree on, with where they align.
public struct Candidate: Sendable, Equatable {
    public let trackID: Int32
    /// Master frame minus query frame: where the query starts in the master.
    public let offsetFrames: Int32
    /// Hits that agree on `offsetFrames` (+-1 frame).
    public let score: Int
    /// First and last anchor frames of the agreeing hits, in the query and in the master.
    public let queryFrames: ClosedRange<Int32>
    public let masterFrames: ClosedRange<Int32>
}

/// Offset voting: true matches pile up on one master-minus-query offset, chance hits spread out.
public struct Matcher: Sendable {
    public let parameters: FingerprintParameters

    public init(parameters: FingerprintParameters = .current) { self.parameters = parameters }

    /// Tracks ranked by score, best first, keeping only those that pass the no-match rule.
    public func rank(_ hits: [Hit], top: Int = 1) -> [Candidate] {
        // Votes per (track, offset).
        var votes: [Int64: Int] = [:]
        for hit in hits {
            votes[Self.key(hit.trackID, hit.masterFrame - hit.queryFrame), default: 0] += 1
        }
        // Best offset per track, counting the neighbouring offsets too: a query whose start
        // falls between two frames of the master splits its votes over two adjacent offsets.
        var best: [Int32: (offset: Int32, score: Int)] = [:]
        for (key, _) in votes {
            let (track, offset) = Self.unpack(key)
            let score = (-1...1).reduce(0) { $0 + (votes[Self.key(track, offset + Int32($1))] ?? 0) }
            if let current = best[track], current.score > score || (current.score == score && current.offset <= offset) { continue }
            best[track] = (offset, score)
        }
        let ranked = best
            .filter { $0.value.score >= parameters.minimumVotes }
            .sorted { ($0.value.score, -$0.key) > ($1.value.score, -$1.key) }
            .prefix(max(top, 0))
        return ranked.compactMap { track, choice in
            let agreeing = hits.filter { $0.trackID == track && abs($0.masterFrame - $0.queryFrame - choice.offset) <= 1 }
            let q = agreeing.map(\.queryFrame), m = agreeing.map(\.masterFrame)
            guard let q0 = q.min(), let q1 = q.max(), let m0 = m.min(), let m1 = m.max() else { return nil }
            return Candidate(trackID: track, offsetFrames: choice.offset, score: choice.score,
                             queryFrames: q0...q1, masterFrames: m0...m1)
        }
    }

    @inline(__always)
    static func key(_ track: Int32, _ offset: Int32) -> Int64 {
        Int64(track) << 32 | Int64(UInt32(bitPattern: offset))
    }

    @inline(__always)
    static func unpack(_ key: Int64) -> (Int32, Int32) {
        (Int32(truncatingIfNeeded: key >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: key)))
    }
}
