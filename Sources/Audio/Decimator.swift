import Foundation

/// Integer-factor decimation: a Blackman-windowed-sinc low-pass evaluated only at the kept
/// samples (polyphase), streaming. It runs ahead of libsamplerate so that the sinc converter,
/// whose cost grows with its input rate, only sees a stream a few times above the target rate:
/// 44.1 kHz reaches 8 kHz as 44100 -> 8820 here, then 8820 -> 8000 in libsamplerate.
/// Not thread-safe: one instance per stream.
final class Decimator {
    let factor: Int
    private let taps: [Float]
    private var pending: [Float]

    /// Decimates `inputRate` by the largest factor that stays at or above `targetRate`, keeping
    /// 0 to `passband` Hz and removing what would alias into it; nil when that factor is 1.
    convenience init?(inputRate: Int, targetRate: Int, passband: Double) {
        let factor = inputRate / targetRate
        guard factor >= 2 else { return nil }
        let outputRate = Double(inputRate) / Double(factor)
        // Alias-free up to `passband`: the stop band starts where its image would land there.
        let stopband = outputRate - passband
        let transition = (stopband - passband) / Double(inputRate)
        let length = min(1023, Int((5.5 / transition).rounded(.up)) | 1) // Blackman: about 74 dB
        self.init(factor: factor, cutoff: (passband + stopband) / 2 / Double(inputRate), length: length)
    }

    /// `cutoff` as a fraction of the input rate.
    init(factor: Int, cutoff: Double, length: Int) {
        self.factor = factor
        let middle = Double(length - 1) / 2
        var h = (0..<length).map { i -> Double in
            let x = Double(i) - middle
            let sinc = x == 0 ? 2 * cutoff : sin(2 * Double.pi * cutoff * x) / (Double.pi * x)
            let w = 0.42 - 0.5 * cos(2 * Double.pi * Double(i) / Double(length - 1)) + 0.08 * cos(4 * Double.pi * Double(i) / Double(length - 1))
            return sinc * w
        }
        let gain = h.reduce(0, +)
        h = h.map { $0 / gain }
        taps = h.map(Float.init)
        // Start with a half filter of silence so the output is aligned with the input.
        pending = [Float](repeating: 0, count: length / 2)
    }

    func process(_ input: ArraySlice<Float>, final: Bool = false) -> [Float] {
        pending.append(contentsOf: input)
        if final { pending.append(contentsOf: repeatElement(0, count: taps.count / 2)) }
        let n = taps.count
        var output: [Float] = []
        output.reserveCapacity(pending.count / factor + 1)
        var position = 0
        pending.withUnsafeBufferPointer { x in
            taps.withUnsafeBufferPointer { h in
                while position + n <= x.count {
                    output.append(Self.dot(h.baseAddress!, x.baseAddress! + position, n))
                    position += factor
                }
            }
        }
        pending.removeFirst(position)
        return output
    }

    /// Sum of a[k] * b[k] over n values, eight lanes at a time: a scalar loop stays scalar because
    /// the compiler may not reorder floating-point additions, and this is most of decimation's time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        typealias Lanes = SIMD8<Float>
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var even = Lanes(), odd = Lanes()
        var k = 0
        while k + 16 <= n {
            even += ra.loadUnaligned(fromByteOffset: 4 * k, as: Lanes.self) * rb.loadUnaligned(fromByteOffset: 4 * k, as: Lanes.self)
            odd += ra.loadUnaligned(fromByteOffset: 4 * k + 32, as: Lanes.self) * rb.loadUnaligned(fromByteOffset: 4 * k + 32, as: Lanes.self)
            k += 16
        }
        var sum = (even + odd).sum()
        while k < n {
            sum += a[k] * b[k]
            k += 1
        }
        return sum
    }
}
