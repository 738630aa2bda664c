import Audio
import Foundation

/// Generated test audio and measurements on it.
enum Signals {
    static func sine(_ frequency: Double, seconds: Double, rate: Int = 44100, amplitude: Float = 0.5, phase: Double = 0) -> [Float] {
        let n = Int(seconds * Double(rate))
        let w = 2 * Double.pi * frequency / Double(rate)
        return (0..<n).map { amplitude * Float(sin(w * Double($0) + phase)) }
    }

    static func chord(_ frequencies: [Double], seconds: Double, rate: Int = 44100, amplitude: Float = 0.2) -> [Float] {
        var out = [Float](repeating: 0, count: Int(seconds * Double(rate)))
        for (i, f) in frequencies.enumerated() {
            let s = sine(f, seconds: seconds, rate: rate, amplitude: amplitude, phase: Double(i))
            for j in out.indices { out[j] += s[j] }
        }
        return out
    }

    static func noise(seconds: Double, rate: Int = 44100, amplitude: Float = 0.3, seed: UInt64 = 7) -> [Float] {
        var state = seed
        return (0..<Int(seconds * Double(rate))).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return amplitude * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
        }
    }

    static func stereo(_ left: [Float], _ right: [Float]? = nil, rate: Int = 44100) -> AudioBuffer {
        AudioBuffer(channels: [left, right ?? left], sampleRate: rate)
    }

    /// Frequency from upward zero crossings (linearly interpolated) over the middle of the signal,
    /// skipping `margin` of it at both ends.
    static func frequency(_ x: [Float], rate: Int, margin: Double = 0.2) -> Double {
        let start = Int(Double(x.count) * margin), end = Int(Double(x.count) * (1 - margin))
        var crossings: [Double] = []
        for i in start..<(end - 1) where x[i] <= 0 && x[i + 1] > 0 {
            crossings.append(Double(i) + Double(-x[i] / (x[i + 1] - x[i])))
        }
        guard let first = crossings.first, let last = crossings.last, crossings.count > 1 else { return 0 }
        return Double(crossings.count - 1) * Double(rate) / (last - first)
    }

    static func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot()
    }

    static func decibels(_ x: Double) -> Double { 20 * log10(x) }

    /// Largest absolute difference between consecutive samples within `range`.
    static func maxStep(_ x: [Float], in range: Range<Int>? = nil) -> Float {
        let r = range ?? 0..<x.count
        var m: Float = 0
        for i in max(r.lowerBound, 1)..<min(r.upperBound, x.count) { m = max(m, abs(x[i] - x[i - 1])) }
        return m
    }

    /// The repository's root, from this file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}
