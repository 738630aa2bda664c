import Fingerprint
import Foundation
import Spectral

/// The pictures `tracemark inspect` and `tracemark match --svg` draw (and `POST
/// /v1/match?explain=svg` returns): what the fingerprinter sees, and why a match is a match.
public enum Pictures {
    static let plot = (left: 70.0, top: 40.0, width: 900.0, height: 400.0)

    /// The analysis spectrogram (log power, grey, coarsened to at most 300 x 100 cells), the
    /// constellation peaks as red dots and up to `pairSample` of the landmark pairs as lines from
    /// anchor to target. `samples` are mono at the fingerprint's rate.
    public static func constellation(samples: [Float], title: String, parameters: FingerprintParameters = .current,
                                     pairSample: Int = 300) -> (svg: String, peaks: Int, pairs: Int) {
        let fingerprinter = Fingerprinter(parameters: parameters)
        let spectrogram = fingerprinter.spectrogram(samples: samples)
        let peaks = PeakPicker(parameters: parameters).peaks(in: spectrogram)
        let pairs = fingerprinter.pairedIndices(peaks)
        let secondsPerFrame = Double(parameters.hop) / Double(parameters.sampleRate)
        let seconds = max(Double(spectrogram.frameCount) * secondsPerFrame, secondsPerFrame)
        let nyquist = Double(parameters.sampleRate) / 2, binHz = Double(parameters.sampleRate) / Double(parameters.fftSize)
        let (left, top, width, height) = plot
        var svg = SVG(width: left + width + 30, height: top + height + 60)
        func x(_ frame: Double) -> Double { left + frame * secondsPerFrame / seconds * width }
        func y(_ bin: Double) -> Double { top + height - bin * binHz / nyquist * height }

        // Spectrogram cells: the loudest power in each, on a 60 dB grey scale.
        let columns = max(1, min(300, spectrogram.frameCount)), rows = max(1, min(100, spectrogram.binCount))
        var cells = [Float](repeating: 0, count: columns * rows)
        for f in 0..<spectrogram.frameCount {
            let c = f * columns / max(spectrogram.frameCount, 1)
            for b in 0..<spectrogram.binCount {
                let r = b * rows / spectrogram.binCount
                cells[c * rows + r] = max(cells[c * rows + r], spectrogram[f, b])
            }
        }
        let loudest = max(cells.max() ?? 0, 1e-20)
        let cellWidth = width / Double(columns), cellHeight = height / Double(rows)
        for c in 0..<columns {
            for r in 0..<rows {
                let decibels = 10 * log10(Double(max(cells[c * rows + r], 1e-20)) / Double(loudest))
                let level = max(0, min(1, 1 + decibels / 60))
                if level < 0.05 { continue }
                let grey = Int(255 * (1 - level))
                svg.rect(x: left + Double(c) * cellWidth, y: top + height - Double(r + 1) * cellHeight, width: cellWidth + 0.3,
                         height: cellHeight + 0.3, fill: String(format: "#%02x%02x%02x", grey, grey, grey))
            }
        }
        let step = max(1, pairs.count / max(pairSample, 1))
        var drawnPairs = 0
        for pair in stride(from: 0, to: pairs.count, by: step).map({ pairs[$0] }) {
            let a = peaks[pair.anchor], t = peaks[pair.target]
            svg.line(x1: x(Double(a.fineFrame)), y1: y(Double(a.fineBin)), x2: x(Double(t.fineFrame)), y2: y(Double(t.fineBin)),
                     stroke: "#1f77b4", width: 0.7, className: "pair")
            drawnPairs += 1
        }
        for peak in peaks {
            svg.circle(x: x(Double(peak.fineFrame)), y: y(Double(peak.fineBin)), radius: 2.2, fill: "#d62728", className: "peak")
        }
        axes(&svg, xRange: 0...seconds, yRange: 0...nyquist, xLabel: "time (s)", yLabel: "frequency (Hz)")
        let heading = "\(title): \(peaks.count) peaks, \(pairs.count) landmark pairs (\(drawnPairs) drawn)"
        svg.text(heading, x: left, y: 24, size: 14)
        return (svg.document(title: heading), peaks.count, pairs.count)
    }

    /// One matched hash: where its anchor is in the query and in the master, in seconds, and
    /// whether it agrees with the match's alignment.
    public struct AlignedHash: Sendable {
        public let query: Double
        public let master: Double
        public let agrees: Bool
        public init(query: Double, master: Double, agrees: Bool) {
            self.query = query
            self.master = master
            self.agrees = agrees
        }
    }

    /// The hashes a query shares with a master as points, query time across and master time up:
    /// the ones that agree on the alignment lie on a line (green), chance hits are scattered (grey).
    public static func alignment(_ hashes: [AlignedHash], title: String) -> String {
        let (left, top, width, height) = plot
        var svg = SVG(width: left + width + 30, height: top + height + 60)
        let queryRange = range(hashes.map(\.query)), masterRange = range(hashes.map(\.master))
        func x(_ t: Double) -> Double { left + (t - queryRange.lowerBound) / (queryRange.upperBound - queryRange.lowerBound) * width }
        func y(_ t: Double) -> Double { top + height - (t - masterRange.lowerBound) / (masterRange.upperBound - masterRange.lowerBound) * height }
        for hash in hashes.sorted(by: { !$0.agrees && $1.agrees }) {
            svg.circle(x: x(hash.query), y: y(hash.master), radius: hash.agrees ? 3 : 2, fill: hash.agrees ? "#2ca02c" : "#9a9a9a",
                       className: hash.agrees ? "agreeing" : "chance")
        }
        axes(&svg, xRange: queryRange, yRange: masterRange, xLabel: "query time (s)", yLabel: "master time (s)")
        svg.text(title, x: left, y: 24, size: 14)
        return svg.document(title: title)
    }

    static func range(_ values: [Double]) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return 0...1 }
        let pad = max((high - low) * 0.05, 0.5)
        return max(0, low - pad)...(high + pad)
    }

    static func axes(_ svg: inout SVG, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, xLabel: String, yLabel: String) {
        let (left, top, width, height) = plot
        svg.rect(x: left, y: top, width: width, height: height, fill: "none", extra: " stroke=\"#333333\"")
        for t in SVG.ticks(xRange) {
            let px = left + (t - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * width
            svg.line(x1: px, y1: top + height, x2: px, y2: top + height + 5, stroke: "#333333", className: "tick")
            svg.text(SVG.number(t), x: px, y: top + height + 18, size: 11, anchor: "middle")
        }
        for t in SVG.ticks(yRange) {
            let py = top + height - (t - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * height
            svg.line(x1: left - 5, y1: py, x2: left, y2: py, stroke: "#333333", className: "tick")
            svg.text(SVG.number(t), x: left - 8, y: py + 4, size: 11, anchor: "end")
        }
        svg.text(xLabel, x: left + width / 2, y: top + height + 38, size: 12, anchor: "middle")
        svg.text(yLabel, x: 18, y: top + height / 2, size: 12, anchor: "middle", rotate: true)
    }
}
