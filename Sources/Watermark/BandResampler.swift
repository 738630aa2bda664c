import Audio
import Foundation

/// Rational polyphase resampling between a file's rate and the mark's 16 kHz, for signals whose
/// content of interest lies under 4 kHz (the mark band is 250 Hz - 3.75 kHz). The Blackman-windowed
/// sinc cuts at 8 kHz with a transition wide enough to keep 0 - 5 kHz flat and alias-free, so it is
/// far shorter than a full-band converter: about 40 taps per output sample going down from
/// 44.1 kHz, 16 going up. Rates whose ratio needs more than `maxPhases` phases go through
/// libsamplerate instead.
struct BandResampler: Sendable {
    let up: Int    // L
    let down: Int  // M
    /// Taps either side of the output instant, in input samples.
    let halfLength: Int
    /// Per phase φ (output instant φ/L past an input sample), weights for inputs n0 - halfLength + 1 ... n0 + halfLength.
    let table: [Float]

    static let maxPhases = 2000

    /// nil when the ratio needs too many phases.
    init?(from inputRate: Int, to outputRate: Int, belowMarkRate: Bool = false) {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let g = gcd(inputRate, outputRate)
        up = outputRate / g
        down = inputRate / g
        guard up <= Self.maxPhases, inputRate > 0, outputRate > 0,
              belowMarkRate || min(inputRate, outputRate) >= MarkLayout.sampleRate else { return nil }
        let cutoff = 8_000.0 / Double(inputRate) // cycles per input sample
        // Blackman transition ≈ 5.5 / taps (cycles per input sample); aim for ~6 kHz of transition.
        let transition = 6_000.0 / Double(inputRate)
        halfLength = max(4, Int((5.5 / transition / 2).rounded(.up)))
        let taps = 2 * halfLength
        var table = [Float](repeating: 0, count: up * taps)
        for phase in 0..<up {
            let fraction = Double(phase) / Double(up)
            var row = [Double](repeating: 0, count: taps)
            for j in 0..<taps {
                // Input n0 - halfLength + 1 + j lies `tau` input samples before the output instant.
                let tau = fraction + Double(halfLength - 1 - j)
                let x = 2 * cutoff * tau
                let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
                let w = 0.42 + 0.5 * cos(Double.pi * tau / Double(halfLength)) + 0.08 * cos(2 * Double.pi * tau / Double(halfLength))
                row[j] = abs(tau) >= Double(halfLength) ? 0 : 2 * cutoff * sinc * w
            }
            // Unit gain at DC for every phase (no ripple from phase to phase).
            let sum = row.reduce(0, +)
            for j in 0..<taps { table[phase * taps + j] = Float(row[j] / sum) }
        }
        self.table = table
    }

    /// `input` at the input rate -> output rate; `count` output samples (default: the rounded length).
    func convert(_ input: [Float], count: Int? = nil) -> [Float] {
        let outputCount = count ?? Int((Double(input.count) * Double(up) / Double(down)).rounded())
        var output = [Float](repeating: 0, count: outputCount)
        let taps = 2 * halfLength, h = halfLength, n = input.count
        input.withUnsafeBufferPointer { x in
            table.withUnsafeBufferPointer { t in
                output.withUnsafeMutableBufferPointer { y in
                    for m in 0..<outputCount {
                        let position = m * down
                        let n0 = position / up, phase = position - n0 * up
                        let first = n0 - h + 1
                        let row = phase * taps
                        var sum: Float = 0
                        if first >= 0 && first + taps <= n {
                            for j in 0..<taps { sum += t[row + j] * x[first + j] }
                        } else {
                            for j in 0..<taps where first + j >= 0 && first + j < n { sum += t[row + j] * x[first + j] }
                        }
                        y[m] = sum
                    }
                }
            }
        }
        return output
    }

    /// Converts with a band resampler when the ratio allows, otherwise with libsamplerate.
    static func convert(_ input: [Float], from inputRate: Int, to outputRate: Int, count: Int? = nil) throws -> [Float] {
        if inputRate == outputRate {
            guard let count, count != input.count else { return input }
            return Array(input.prefix(count)) + [Float](repeating: 0, count: max(0, count - input.count))
        }
        if let resampler = BandResampler(from: inputRate, to: outputRate) { return resampler.convert(input, count: count) }
        var out = try SampleRateConverter.convert(input, ratio: Double(outputRate) / Double(inputRate))
        if let count {
            if out.count > count { out.removeLast(out.count - count) } else { out += [Float](repeating: 0, count: count - out.count) }
        }
        return out
    }
}
