import Foundation

/// A second-order IIR section designed with the Audio EQ Cookbook (R. Bristow-Johnson) formulas
/// through the bilinear transform with prewarping, so the cutoff, centre and shelf frequencies land
/// exactly where asked. Runs in transposed direct form II with Double state.
public struct Biquad: Sendable, Equatable {
    public var b0, b1, b2, a1, a2: Double

    public init(b0: Double, b1: Double, b2: Double, a0: Double, a1: Double, a2: Double) {
        self.b0 = b0 / a0; self.b1 = b1 / a0; self.b2 = b2 / a0
        self.a1 = a1 / a0; self.a2 = a2 / a0
    }

    /// The band's biquad at `sampleRate`; the frequency must be below Nyquist.
    public init(_ band: FilterBand, sampleRate: Double) {
        let w0 = 2 * Double.pi * band.frequency / sampleRate
        let cosw = cos(w0), alpha = sin(w0) / (2 * band.q)
        let a = pow(10, band.gainDecibels / 40)
        switch band.kind {
        case .lowpass:
            self.init(b0: (1 - cosw) / 2, b1: 1 - cosw, b2: (1 - cosw) / 2, a0: 1 + alpha, a1: -2 * cosw, a2: 1 - alpha)
        case .highpass:
            self.init(b0: (1 + cosw) / 2, b1: -(1 + cosw), b2: (1 + cosw) / 2, a0: 1 + alpha, a1: -2 * cosw, a2: 1 - alpha)
        case .bandpass:
            self.init(b0: alpha, b1: 0, b2: -alpha, a0: 1 + alpha, a1: -2 * cosw, a2: 1 - alpha)
        case .notch:
            self.init(b0: 1, b1: -2 * cosw, b2: 1, a0: 1 + alpha, a1: -2 * cosw, a2: 1 - alpha)
        case .peaking:
            self.init(b0: 1 + alpha * a, b1: -2 * cosw, b2: 1 - alpha * a, a0: 1 + alpha / a, a1: -2 * cosw, a2: 1 - alpha / a)
        case .lowshelf:
            let s = 2 * a.squareRoot() * alpha
            self.init(b0: a * ((a + 1) - (a - 1) * cosw + s), b1: 2 * a * ((a - 1) - (a + 1) * cosw),
                      b2: a * ((a + 1) - (a - 1) * cosw - s), a0: (a + 1) + (a - 1) * cosw + s,
                      a1: -2 * ((a - 1) + (a + 1) * cosw), a2: (a + 1) + (a - 1) * cosw - s)
        case .highshelf:
            let s = 2 * a.squareRoot() * alpha
            self.init(b0: a * ((a + 1) + (a - 1) * cosw + s), b1: -2 * a * ((a - 1) + (a + 1) * cosw),
                      b2: a * ((a + 1) + (a - 1) * cosw - s), a0: (a + 1) - (a - 1) * cosw + s,
                      a1: 2 * ((a - 1) - (a + 1) * cosw), a2: (a + 1) - (a - 1) * cosw - s)
        }
    }

    /// Magnitude response in dB at `frequency`.
    public func responseDecibels(at frequency: Double, sampleRate: Double) -> Double {
        let w = 2 * Double.pi * frequency / sampleRate
        // H(e^jw) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)
        let nr = b0 + b1 * cos(w) + b2 * cos(2 * w), ni = -(b1 * sin(w) + b2 * sin(2 * w))
        let dr = 1 + a1 * cos(w) + a2 * cos(2 * w), di = -(a1 * sin(w) + a2 * sin(2 * w))
        return 10 * log10((nr * nr + ni * ni) / (dr * dr + di * di))
    }

    /// Filters `signal` in place from rest.
    public func process(_ signal: inout [Float]) {
        var channels = [signal]
        signal = []
        Self.filter(&channels, through: [self])
        signal = channels[0]
    }

    /// Filters every channel in place, from rest, through `sections` in series. Two channels share
    /// a pass in SIMD lanes, and every section advances within the same loop over the samples, so
    /// the sections' recursions overlap in the pipeline instead of each waiting on its own.
    public static func filter(_ channels: inout [[Float]], through sections: [Biquad]) {
        guard !sections.isEmpty else { return }
        for first in stride(from: 0, to: channels.count, by: 2) {
            let paired = first + 1 < channels.count
            // Move the arrays out so both can be written at once without copies.
            var left = channels[first]; channels[first] = []
            var right: [Float] = []
            if paired { right = channels[first + 1]; channels[first + 1] = [] }
            left.withUnsafeMutableBufferPointer { l in
                right.withUnsafeMutableBufferPointer { r in
                    run(sections, l.baseAddress!, paired ? r.baseAddress : nil, count: l.count) { i, y in
                        l[i] = y.x
                        if paired { r[i] = y.y }
                    }
                }
            }
            channels[first] = left
            if paired { channels[first + 1] = right }
        }
    }

    /// The sum of squares of the first `count` frames of every channel filtered through `sections`
    /// (from rest) over each stretch of `step` frames starting at 0 (the last stretch may be
    /// shorter), without keeping the filtered signal: the same values as `filter` followed by
    /// summing the squares in order.
    public static func energy(_ channels: [[Float]], through sections: [Biquad], step: Int, count: Int) -> [[Double]] {
        let n = min(count, channels.first?.count ?? 0)
        let segments = max(1, (n + step - 1) / step)
        var result = [[Double]](repeating: [Double](repeating: 0, count: segments), count: channels.count)
        for first in stride(from: 0, to: channels.count, by: 2) {
            let paired = first + 1 < channels.count
            var left = [Double](repeating: 0, count: segments), right = left
            var sum = SIMD2<Double>.zero, segment = 0, end = min(step, n)
            channels[first].withUnsafeBufferPointer { l in
                channels[paired ? first + 1 : first].withUnsafeBufferPointer { r in
                    run(sections, l.baseAddress!, paired ? r.baseAddress : nil, count: n) { i, y in
                        let v = SIMD2<Double>(Double(y.x), Double(y.y))
                        sum += v * v
                        if i + 1 == end {
                            left[segment] = sum.x; right[segment] = sum.y
                            sum = .zero; segment += 1; end = min(end + step, n)
                        }
                    }
                }
            }
            result[first] = left
            if paired { result[first + 1] = right }
        }
        return result
    }

    /// The cascade over `count` frames of one channel or two (`right` nil: the second lane is
    /// silent), handing each frame's output, rounded to Float, to `emit` in order.
    @inline(__always)
    static func run(_ sections: [Biquad], _ left: UnsafePointer<Float>, _ right: UnsafePointer<Float>?, count: Int,
                    _ emit: (Int, SIMD2<Float>) -> Void) {
        typealias Pair = SIMD2<Double>
        let k = sections.count
        let b0 = sections.map { Pair(repeating: $0.b0) }, b1 = sections.map { Pair(repeating: $0.b1) }
        let b2 = sections.map { Pair(repeating: $0.b2) }, a1 = sections.map { Pair(repeating: $0.a1) }
        let a2 = sections.map { Pair(repeating: $0.a2) }
        var z1 = [Pair](repeating: .zero, count: k), z2 = z1
        z1.withUnsafeMutableBufferPointer { z1 in
            z2.withUnsafeMutableBufferPointer { z2 in
                for i in 0..<count {
                    var x = Pair(Double(left[i]), right.map { Double($0[i]) } ?? 0)
                    for s in 0..<k {
                        let y = b0[s] * x + z1[s]
                        z1[s] = b1[s] * x - a1[s] * y + z2[s]
                        z2[s] = b2[s] * x - a2[s] * y
                        x = y
                    }
                    emit(i, SIMD2<Float>(Float(x.x), Float(x.y)))
                }
            }
        }
    }
}
