import Audio
import Foundation
import Spectral
import Testing
@testable import Remix

/// The vectorised kernels against plain references: the same output, or within a stated bound.
@Suite struct KernelTests {
    @Test func cosSinAndAtan2AreWithinTheirBounds() {
        var worstTrig = 0.0, worstAtan = 0.0
        let count = 1 << 20
        for start in stride(from: 0, to: count, by: 8) {
            var a = SIMD8<Float>(), y = SIMD8<Float>(), x = SIMD8<Float>()
            for l in 0..<8 {
                let t = Double(start + l) / Double(count)
                a[l] = Float(-Double.pi + 2 * Double.pi * t)
                // Points on circles of several radii, every direction, including the axes.
                let radius = pow(10, Double((start + l) % 7) - 3)
                y[l] = Float(radius * sin(2 * Double.pi * t)); x[l] = Float(radius * cos(2 * Double.pi * t))
            }
            let (c, s) = FastMath.cosSin(a)
            let angle = FastMath.atan2(y, x)
            for l in 0..<8 {
                worstTrig = max(worstTrig, abs(Double(c[l]) - cos(Double(a[l]))), abs(Double(s[l]) - sin(Double(a[l]))))
                var error = abs(Double(angle[l]) - atan2(Double(y[l]), Double(x[l])))
                error = min(error, abs(error - 2 * Double.pi)) // pi and -pi are the same direction
                worstAtan = max(worstAtan, error)
            }
        }
        #expect(worstTrig < 3e-7, "cos/sin error \(worstTrig)")
        #expect(worstAtan < 3e-7, "atan2 error \(worstAtan)")
        #expect(FastMath.atan2(SIMD8(repeating: 0), SIMD8(repeating: 0)) == SIMD8(repeating: 0))
    }

    @Test func logAndExpOnLanesEqualTheScalarForms() {
        for i in 0..<10_000 {
            let x = SIMD8<Float>((0..<8).map { Float(i * 8 + $0 + 1) * 1e-4 })
            let d = SIMD8<Float>((0..<8).map { Float(i * 8 + $0) * 0.01 - 400 })
            let log = FastMath.log2(x), exp = FastMath.exp2(d)
            for l in 0..<8 {
                #expect(log[l] == FastMath.log2(x[l]))
                #expect(exp[l] == FastMath.exp2(d[l]))
            }
        }
    }

    @Test func peaksAreTheLocalMaximaOverTwoBinsEachSide() {
        // Random powers with many ties (plateaus), against the definition bin by bin.
        var state: UInt64 = 3
        for length in [5, 9, 17, 64, 1025] {
            let power = (0..<length).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float((state >> 60) % 6)
            }
            var expected: [Int] = []
            for k in 2..<(length - 2) {
                let v = power[k]
                if v > power[k - 1] && v >= power[k + 1] && v > power[k - 2] && v >= power[k + 2] && v > 1e-20 { expected.append(k) }
            }
            var peaks: [Int] = []
            power.withUnsafeBufferPointer { PhaseVocoder.findPeaks($0, into: &peaks) }
            #expect(peaks == expected, "length \(length)")
        }
    }

    /// Freeverb's tank as Jezar wrote it: comb by comb, then the allpasses sample by sample.
    struct ReferenceTank {
        var combs: [[Float]], combIndex: [Int], store: [Float]
        var allpasses: [[Float]], allpassIndex: [Int]
        let feedback: Float, damp: Float

        init(spread: Int, feedback: Float, damp: Float) {
            combs = Reverb.combTunings.map { [Float](repeating: 0, count: $0 + spread) }
            combIndex = [Int](repeating: 0, count: 8); store = [Float](repeating: 0, count: 8)
            allpasses = Reverb.allpassTunings.map { [Float](repeating: 0, count: $0 + spread) }
            allpassIndex = [Int](repeating: 0, count: 4)
            self.feedback = feedback; self.damp = damp
        }

        mutating func process(_ sample: Float) -> Float {
            var out: Float = 0
            for c in 0..<8 {
                let delayed = combs[c][combIndex[c]]
                store[c] = delayed * (1 - damp) + store[c] * damp
                combs[c][combIndex[c]] = sample + store[c] * feedback
                combIndex[c] = (combIndex[c] + 1) % combs[c].count
                out += delayed
            }
            for a in 0..<4 {
                let delayed = allpasses[a][allpassIndex[a]]
                let input = out
                out = delayed - input
                allpasses[a][allpassIndex[a]] = input + delayed * 0.5
                allpassIndex[a] = (allpassIndex[a] + 1) % allpasses[a].count
            }
            return out
        }
    }

    @Test func reverbTankEqualsFreeverb() {
        let input = Signals.noise(seconds: 0.5, amplitude: 0.02)
        for spread in [0, Reverb.stereoSpread] {
            var tank = Reverb.Tank(spread: spread, scale: 1, feedback: 0.84, damp: 0.2)
            var reference = ReferenceTank(spread: spread, feedback: 0.84, damp: 0.2)
            let expected = input.map { reference.process($0) }
            // Uneven blocks, so block edges fall everywhere in the delay lines.
            var output: [Float] = [], start = 0, sizes = [37, 4096, 1, 1500, 333]
            while start < input.count {
                let size = min(sizes[0], input.count - start)
                sizes.append(sizes.removeFirst())
                var block = [Float](repeating: 0, count: size)
                tank.process(Array(input[start..<(start + size)]), count: size, into: &block)
                output += block
                start += size
            }
            #expect(output == expected, "spread \(spread)")
            #expect(Signals.rms(output[...]) > 0.01) // the tail is there
        }
    }

    @Test func energyEqualsFilteringThenSumming() {
        let channels = [Signals.noise(seconds: 1.05, seed: 3), Signals.chord([100, 3000], seconds: 1.05)]
        let sections = LoudnessMeter.kWeighting(sampleRate: 44100)
        var filtered = channels
        Biquad.filter(&filtered, through: sections)
        let step = 4410, count = 4 * step + 17
        let energy = Biquad.energy(channels, through: sections, step: step, count: count)
        for c in 0..<2 {
            var expected: [Double] = []
            for start in stride(from: 0, to: count, by: step) {
                var sum = 0.0
                for i in start..<min(count, start + step) { sum += Double(filtered[c][i]) * Double(filtered[c][i]) }
                expected.append(sum)
            }
            #expect(energy[c] == expected)
        }
    }
}

@Suite struct StereoTransformTests {
    @Test(arguments: [2048, 1980, 1764, 1001])
    func oneComplexTransformEqualsTwoRealOnes(size: Int) {
        let left = Signals.noise(seconds: 0.1, seed: 5), right = Signals.chord([300, 5000], seconds: 0.1)
        let window = [Float](repeating: 1, count: size)
        let pair = PhaseVocoder.StereoTransform(size: size, outSize: size)
        let l = RealFFTBuffers(size: size), r = RealFFTBuffers(size: size)
        window.withUnsafeBufferPointer { w in
            pair.analyze(left, right, start: 100, window: w.baseAddress!, into: l.spectrum, r.spectrum)
        }
        // Against the real transforms of each channel.
        let fft = RealFFT.shared(size: size), reference = RealFFTBuffers(size: size)
        for (channel, spectrum) in [(left, l.spectrum), (right, r.spectrum)] {
            for i in 0..<size { reference.real[i] = channel[100 + i] }
            fft.forward(reference)
            let peak = reference.spectrum.map { abs($0) }.max()!
            let worst = zip(reference.spectrum, spectrum).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-5 * peak, "analysis, size \(size): \(worst) against \(peak)")
        }
        // Synthesis: the inverse of both half spectra (DC and Nyquist imaginary parts ignored).
        var out = ([Float](repeating: 0, count: size + 200), [Float](repeating: 0, count: size + 200))
        window.withUnsafeBufferPointer { w in
            out.0.withUnsafeMutableBufferPointer { a in
                out.1.withUnsafeMutableBufferPointer { b in
                    pair.synthesize(l.spectrum, r.spectrum, window: w.baseAddress!, scale: 1 / Float(size), into: a, b, start: 100)
                }
            }
        }
        for (channel, result) in [(left, out.0), (right, out.1)] {
            let worst = (0..<size).map { abs(channel[100 + $0] - result[100 + $0]) }.max()!
            #expect(worst < 1e-5, "round trip, size \(size): \(worst)")
            #expect(result[0..<100].allSatisfy { $0 == 0 })
        }
    }
}
