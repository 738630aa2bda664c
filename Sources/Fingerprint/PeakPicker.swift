import Foundation
import Spectral

/// A spectral peak: a local maximum of the log spectrogram.
public struct Peak: Sendable, Hashable {
    public let frame: Int
    public let bin: Int
    /// Log power above the frame's mean log power in the band: how much the peak stands out.
    public let prominence: Float
    /// Where the peak's maximum lies between frames and between bins (parabolic interpolation of
    /// the log spectrum), for pitch and timing finer than the grid.
    public let fineFrame: Float
    public let fineBin: Float

    public init(frame: Int, bin: Int, prominence: Float, fineFrame: Float? = nil, fineBin: Float? = nil) {
        self.frame = frame
        self.bin = bin
        self.prominence = prominence
        self.fineFrame = fineFrame ?? Float(frame)
        self.fineBin = fineBin ?? Float(bin)
    }
}

/// Picks a constellation of prominent local maxima, at most `peaksPerSecond` per second.
public struct PeakPicker: Sendable {
    public let parameters: FingerprintParameters

    public init(parameters: FingerprintParameters = .current) { self.parameters = parameters }

    public func peaks(in spectrogram: Spectrogram) -> [Peak] {
        let p = parameters
        let lo = p.minBin, hi = min(p.maxBin, spectrogram.binCount - 1)
        guard hi > lo, spectrogram.frameCount > 0 else { return [] }
        let width = hi - lo + 1
        let frames = spectrogram.frameCount

        // Log power relative to each frame's mean: removes the loudness envelope, so quiet
        // passages still yield peaks and a gain change leaves the constellation alone.
        var level = [Float](repeating: 0, count: frames * width)
        for f in 0..<frames {
            var sum: Float = 0
            for k in 0..<width {
                let v = logf(spectrogram[f, lo + k] + 1e-10)
                level[f * width + k] = v
                sum += v
            }
            let mean = sum / Float(width)
            for k in 0..<width { level[f * width + k] -= mean }
        }

        // Separable max filter: over frequency within each frame, then over time.
        let inFrequency = Self.slidingMax(level, rows: frames, columns: width, radius: p.neighbourhoodBins, alongRows: true)
        let neighbourhood = Self.slidingMax(inFrequency, rows: frames, columns: width, radius: p.neighbourhoodFrames, alongRows: false)

        var candidates: [Peak] = []
        for f in 0..<frames {
            for k in 0..<width {
                let v = level[f * width + k]
                if v > 0, v == neighbourhood[f * width + k] {
                    let df = f > 0 && f < frames - 1
                        ? Self.vertex(level[(f - 1) * width + k], v, level[(f + 1) * width + k]) : 0
                    let dk = k > 0 && k < width - 1 ? Self.vertex(level[f * width + k - 1], v, level[f * width + k + 1]) : 0
                    candidates.append(Peak(frame: f, bin: lo + k, prominence: v,
                                           fineFrame: Float(f) + df, fineBin: Float(lo + k) + dk))
                }
            }
        }

        // Density cap: a peak is kept when it is among the `peaksPerSecond` most prominent within
        // half a second either side of it. A sliding window, unlike fixed blocks, picks the same
        // peaks wherever the excerpt starts.
        let half = max(1, Int((0.5 / p.secondsPerFrame).rounded()))
        var kept: [Peak] = []
        var first = 0, end = 0
        for (i, peak) in candidates.enumerated() {
            while candidates[first].frame < peak.frame - half { first += 1 }
            while end < candidates.count, candidates[end].frame <= peak.frame + half { end += 1 }
            var stronger = 0
            for j in first..<end where j != i && candidates[j].prominence > peak.prominence {
                stronger += 1
                if stronger >= p.peaksPerSecond { break }
            }
            if stronger < p.peaksPerSecond { kept.append(peak) }
        }
        return kept
    }

    /// Offset of a parabola's vertex through three neighbouring values, the middle one largest.
    static func vertex(_ a: Float, _ b: Float, _ c: Float) -> Float {
        let curvature = a - 2 * b + c
        guard curvature < 0 else { return 0 }
        return min(0.5, max(-0.5, 0.5 * (a - c) / curvature))
    }

    /// Maximum over a window of +-radius along one axis of a row-major matrix, eight columns at
    /// a time (the picker's most expensive step): along rows through a copy of each row padded
    /// with -infinity, across rows over the window's rows eight columns at a time.
    static func slidingMax(_ m: [Float], rows: Int, columns: Int, radius: Int, alongRows: Bool) -> [Float] {
        typealias Lanes = SIMD8<Float>
        let lanes = Lanes.scalarCount
        // Rounded up to whole lanes; the extra columns are computed and dropped.
        let padded = (columns + lanes - 1) / lanes * lanes
        var out = [Float](repeating: 0, count: m.count)
        m.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { out in
                if alongRows {
                    var row = [Float](repeating: -.infinity, count: padded + 2 * radius)
                    var result = [Float](repeating: 0, count: padded)
                    for r in 0..<rows {
                        for c in 0..<columns { row[radius + c] = m[r * columns + c] }
                        row.withUnsafeBytes { row in
                            result.withUnsafeMutableBufferPointer { result in
                                for c in stride(from: 0, to: padded, by: lanes) {
                                    var best = row.loadUnaligned(fromByteOffset: 4 * c, as: Lanes.self)
                                    for j in 1...(2 * radius) { best = VectorOps.maximum(best, row.loadUnaligned(fromByteOffset: 4 * (c + j), as: Lanes.self)) }
                                    UnsafeMutableRawPointer(result.baseAddress!).storeBytes(of: best, toByteOffset: 4 * c, as: Lanes.self)
                                }
                            }
                        }
                        for c in 0..<columns { out[r * columns + c] = result[c] }
                    }
                } else {
                    let whole = columns / lanes * lanes
                    let source = UnsafeRawPointer(m.baseAddress!), target = UnsafeMutableRawPointer(out.baseAddress!)
                    for r in 0..<rows {
                        let first = max(0, r - radius), last = min(rows - 1, r + radius)
                        for c in stride(from: 0, to: whole, by: lanes) {
                            var best = source.loadUnaligned(fromByteOffset: 4 * (first * columns + c), as: Lanes.self)
                            for j in first...last { best = VectorOps.maximum(best, source.loadUnaligned(fromByteOffset: 4 * (j * columns + c), as: Lanes.self)) }
                            target.storeBytes(of: best, toByteOffset: 4 * (r * columns + c), as: Lanes.self)
                        }
                        for c in whole..<columns {
                            var best = m[first * columns + c]
                            for j in first...last { best = Swift.max(best, m[j * columns + c]) }
                            out[r * columns + c] = best
                        }
                    }
                }
            }
        }
        return out
    }
}
