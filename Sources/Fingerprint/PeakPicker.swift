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

    /// Maximum over a window of +-radius along one axis of a row-major matrix.
    static func slidingMax(_ m: [Float], rows: Int, columns: Int, radius: Int, alongRows: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: m.count)
        let (outer, inner) = alongRows ? (rows, columns) : (columns, rows)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = -Float.infinity
                for j in max(0, i - radius)...min(inner - 1, i + radius) {
                    let v = alongRows ? m[o * columns + j] : m[j * columns + o]
                    if v > best { best = v }
                }
                if alongRows { out[o * columns + i] = best } else { out[i * columns + o] = best }
            }
        }
        return out
    }
}
