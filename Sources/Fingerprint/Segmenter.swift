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
    /// The strongest vote cells of each track are candidates; each one's agreeing hits are cut
    /// where they pause for longer than `maxGapSeconds`, and each run that passes the no-match
    /// rule (its chance statistics counted over the run's share of the query) is a stretch.
    /// Stretches are taken strongest first, and a weaker one that mostly overlaps a stronger one is
    /// dropped. Gaps between stretches shorter than `minUnknownSeconds` are split between the
    /// neighbours; longer ones are unknown.
    public func segments(_ hits: [Hit], query: Query, catalog: CatalogExtent, maxGapSeconds: Double = 2,
                         minUnknownSeconds: Double = 1) -> [QuerySpan] {
        let frameCount = max(query.frameCount, 1)
        let maxGap = Float(maxGapSeconds / parameters.secondsPerFrame)
        let minUnknown = Int32((minUnknownSeconds / parameters.secondsPerFrame).rounded())

        var runs: [Candidate] = []
        for (track, trackHits) in Dictionary(grouping: hits, by: \.trackID) where trackHits.count >= parameters.minimumVotes {
            let trackLandmarks = Self.distinctLandmarks(trackHits, query: query).count
            let strongest = cells(trackHits, query: query)
                .filter { $0.value >= parameters.minimumVotes / 2 }
                .sorted { ($0.value, $1.key) > ($1.value, $0.key) }
                .prefix(Self.cellsPerTrack)
            for (cell, _) in strongest {
                let agree = Self.distinctLandmarks(agreeing(trackHits, cell: cell, query: query), query: query)
                    .sorted { time($0, query) < time($1, query) }
                guard !agree.isEmpty else { continue }
                var start = 0
                for i in 1...agree.count where i == agree.count || time(agree[i], query) - time(agree[i - 1], query) > maxGap {
                    let run = Array(agree[start..<i])
                    start = i
                    guard run.count >= parameters.minimumVotes else { continue }
                    let span = Double(time(run[run.count - 1], query) - time(run[0], query)) + 2 * Double(maxGap)
                    let share = min(1, span / Double(frameCount))
                    if let c = candidate(track, cell: cell, agreeing: run,
                                         trackLandmarks: Int((Double(trackLandmarks) * share).rounded(.up)),
                                         chanceFrames: Int(min(Double(frameCount), span)), query: query, catalog: catalog),
                       accepted(c) {
                        runs.append(c)
                    }
                }
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

    /// Vote cells of one track examined for stretches.
    static let cellsPerTrack = 8

    private func time(_ hit: Hit, _ query: Query) -> Float {
        query.landmarks[Int(query.probes[Int(hit.probe)].landmark)].time
    }
}
