/// A stretch of a query: the master it comes from (with where it sits there), or nothing known.
public struct QuerySpan: Sendable, Equatable {
    /// Query frames covered, start inclusive, end exclusive.
    public let frames: Range<Int32>
    /// The matching master; its `queryFrames`/`masterFrames` are the agreeing hits of this stretch.
    public let match: Candidate?
}

extension Matcher {
    /// Splits a query into stretches that each match one master, and the stretches between them
    /// that match nothing: a query may hold several masters one after another, or none.
    ///
    /// Every (track, offset) that gathers `minimumVotes` agreeing hashes is a candidate; its
    /// agreeing hits are cut where they pause for longer than `maxGapSeconds`, and each run that
    /// still has `minimumVotes` hashes is a stretch. Stretches are taken strongest first, and a
    /// weaker one that mostly overlaps a stronger one is dropped. Gaps between stretches shorter
    /// than `minUnknownSeconds` are split between the neighbours; longer ones are unknown.
    public func segments(_ hits: [Hit], queryFrameCount: Int32, maxGapSeconds: Double = 2,
                         minUnknownSeconds: Double = 1) -> [QuerySpan] {
        let frameCount = max(queryFrameCount, 1)
        let maxGap = Int32((maxGapSeconds / parameters.secondsPerFrame).rounded())
        let minUnknown = Int32((minUnknownSeconds / parameters.secondsPerFrame).rounded())

        var votes: [Int64: Int] = [:]
        for hit in hits { votes[Self.key(hit.trackID, hit.masterFrame - hit.queryFrame), default: 0] += 1 }
        // Offsets whose neighbourhood (+-1 frame) has enough votes and that are its local maximum.
        var offsets: [(track: Int32, offset: Int32, score: Int)] = []
        for (key, count) in votes {
            let (track, offset) = Self.unpack(key)
            let below = votes[Self.key(track, offset - 1)] ?? 0, above = votes[Self.key(track, offset + 1)] ?? 0
            guard count >= below, count > above, below + count + above >= parameters.minimumVotes else { continue }
            offsets.append((track, offset, below + count + above))
        }

        // Runs of agreeing hits, strongest first.
        var hitsByTrack: [Int32: [Hit]] = [:]
        let candidateTracks = Set(offsets.map(\.track))
        for hit in hits where candidateTracks.contains(hit.trackID) { hitsByTrack[hit.trackID, default: []].append(hit) }
        var runs: [Candidate] = []
        for (track, offset, _) in offsets {
            let agreeing = (hitsByTrack[track] ?? [])
                .filter { abs($0.masterFrame - $0.queryFrame - offset) <= 1 }
                .sorted { $0.queryFrame < $1.queryFrame }
            guard !agreeing.isEmpty else { continue }
            var start = 0
            for i in 1...agreeing.count where i == agreeing.count || agreeing[i].queryFrame - agreeing[i - 1].queryFrame > maxGap {
                let run = agreeing[start..<i]
                start = i
                guard run.count >= parameters.minimumVotes, let q0 = run.first?.queryFrame, let q1 = run.last?.queryFrame,
                      let m0 = run.map(\.masterFrame).min(), let m1 = run.map(\.masterFrame).max() else { continue }
                runs.append(Candidate(trackID: track, offsetFrames: offset, score: run.count, queryFrames: q0...q1, masterFrames: m0...m1))
            }
        }
        runs.sort { ($0.score, -$0.trackID) > ($1.score, -$1.trackID) }

        var accepted: [Candidate] = []
        for run in runs {
            let length = run.queryFrames.upperBound - run.queryFrames.lowerBound + 1
            let overlap = accepted.map { a in
                max(0, min(a.queryFrames.upperBound, run.queryFrames.upperBound) - max(a.queryFrames.lowerBound, run.queryFrames.lowerBound) + 1)
            }.reduce(0, +)
            if overlap * 2 < length { accepted.append(run) }
        }
        accepted.sort { $0.queryFrames.lowerBound < $1.queryFrames.lowerBound }

        // Boundaries: midway between neighbours, unless the gap is long enough to be unknown.
        var spans: [QuerySpan] = []
        var cursor: Int32 = 0
        for (i, run) in accepted.enumerated() {
            var start = max(cursor, run.queryFrames.lowerBound)
            if start - cursor >= minUnknown {
                spans.append(QuerySpan(frames: cursor..<start, match: nil))
            } else {
                start = cursor
            }
            var end = min(frameCount, run.queryFrames.upperBound + 1)
            if i + 1 < accepted.count {
                let next = accepted[i + 1].queryFrames.lowerBound
                if next - end < minUnknown { end = max(end, min(next, (end + next) / 2)) }
            } else if frameCount - end < minUnknown {
                end = frameCount
            }
            guard end > start else { continue }
            spans.append(QuerySpan(frames: start..<end, match: run))
            cursor = end
        }
        if cursor < frameCount { spans.append(QuerySpan(frames: cursor..<frameCount, match: nil)) }
        return spans
    }
}
