import Audio
import Foundation
import Spectral

/// Time stretching and pitch shifting in one pass: a phase vocoder with identity phase locking
/// (Laroche and Dolson, 1999) whose synthesis frames are resampled in the frequency domain.
///
/// Each frame's spectral peaks get the phase their measured instantaneous frequency calls for at the
/// synthesis hop; every other bin is rotated by the same angle as the peak whose region it lies in,
/// which keeps each partial's bins coherent (no "phasiness"). Channels share one set of rotations,
/// computed from their sum, so inter-channel phase and with it the stereo image survive.
///
/// Pitch: the analysis FFT has N points and the synthesis inverse FFT N' points, with N/N' the pitch
/// factor. Truncating or zero-padding the spectrum from N to N' bins resamples the frame band-limited
/// (anti-aliased when raising the pitch), so no separate resampler runs over the whole signal.
/// The sizes are 13-smooth numbers (fast in FFTW) chosen so that N/N' is within 0.06 % (one cent) of
/// the requested factor. Time: output frames are `N'/4` apart and analysis frames that divided by the
/// duration factor, computed from the frame index so the length is exact.
enum PhaseVocoder {
    /// Base FFT size for a sample rate: about 46 ms (2048 at 44.1 and 48 kHz).
    static func frameSize(sampleRate: Int) -> Int {
        var n = 256
        while Double(n) < 0.035 * Double(sampleRate) { n *= 2 }
        return n
    }

    /// Analysis and synthesis FFT sizes whose ratio is closest to `pitch`: the analysis size even,
    /// within 25 % of `base`, the synthesis size any 13-smooth number. Ties go to the size nearest `base`.
    static func sizes(pitch: Double, base: Int) -> (analysis: Int, synthesis: Int) {
        if pitch == 1 { return (base, base) }
        let limit = Int(1.25 * Double(base) * max(1, 1 / pitch)) + 2 // both sizes come from the list
        let smooth = (16...max(limit, 16)).filter(isSmooth)
        var best = (analysis: base, synthesis: base), bestError = Double.infinity, bestDistance = Int.max
        for n in smooth where n % 2 == 0 && 4 * n >= 3 * base && 4 * n <= 5 * base {
            let target = Double(n) / pitch
            // The two smooth numbers around the target (the list is sorted).
            var low = 0, high = smooth.count
            while low < high {
                let mid = (low + high) / 2
                if Double(smooth[mid]) < target { low = mid + 1 } else { high = mid }
            }
            for m in smooth[max(0, low - 1)..<min(smooth.count, low + 1)] {
                let error = abs(Double(n) / Double(m) / pitch - 1), distance = abs(n - base)
                if error < bestError - 1e-12 || (abs(error - bestError) <= 1e-12 && distance < bestDistance) {
                    best = (n, m); bestError = error; bestDistance = distance
                }
            }
        }
        return best
    }

    static func isSmooth(_ value: Int) -> Bool {
        var n = value
        for p in [2, 3, 5, 7, 11, 13] { while n % p == 0 { n /= p } }
        return n == 1
    }

    /// `audio` lasting `duration` times as long (exactly `round(frames * duration)` frames) with every
    /// frequency multiplied by `pitch` (realised as a ratio of FFT sizes, see `sizes`).
    static func transform(_ audio: AudioBuffer, duration: Double, pitch: Double = 1, progress: (Double) -> Void = { _ in }) -> AudioBuffer {
        if audio.channelCount == 2 && audio.channels[0] == audio.channels[1] {
            // Equal channels stay exactly equal: one channel through the vocoder, twice out (the
            // joint complex transform below would make them differ by rounding).
            let one = transform(AudioBuffer(channels: [audio.channels[0]], sampleRate: audio.sampleRate),
                                duration: duration, pitch: pitch, progress: progress)
            return AudioBuffer(channels: [one.channels[0], one.channels[0]], sampleRate: audio.sampleRate)
        }
        let (size, outSize) = sizes(pitch: pitch, base: frameSize(sampleRate: audio.sampleRate))
        let half = size / 2, bins = size / 2 + 1, outBins = outSize / 2 + 1
        // Bins carried into the synthesis frame. When the frame is resampled, the band ends in a
        // raised cosine from 70 to 85 % of the smaller size's Nyquist, a resampler's transition
        // band: cutting at Nyquist itself rings in every frame. (Measured on the fingerprint tests'
        // 8 kHz excerpts shifted up a semitone: with the band kept to 90 % or more, the matcher
        // reported tempo factors 0.96-0.986 instead of 1; with 85 % or less, 1.)
        let limit = min(size, outSize) / 2
        let taperStart = size == outSize ? bins : Int(0.70 * Double(limit))
        let carried = size == outSize ? bins : Int(0.85 * Double(limit))
        let taper = (taperStart..<max(taperStart, carried)).map { k in
            Float(0.5 + 0.5 * cos(Double.pi * Double(k - taperStart) / Double(carried - taperStart)))
        }
        let outHop = max(1, outSize / 4)
        let inputLength = audio.frameCount
        let outputLength = Int((Double(inputLength) * duration).rounded())
        let channelCount = audio.channelCount
        let analysisFFT = RealFFT.shared(size: size), synthesisFFT = RealFFT.shared(size: outSize)
        let window = UnsafeMutablePointer<Float>.allocate(capacity: size), outWindow = UnsafeMutablePointer<Float>.allocate(capacity: outSize)
        window.initialize(from: Window.hann(size), count: size)
        outWindow.initialize(from: Window.hann(outSize), count: outSize)
        defer { window.deallocate(); outWindow.deallocate() }
        let analysis = (0..<channelCount).map { _ in RealFFTBuffers(size: size) }
        let synthesis = RealFFTBuffers(size: outSize)
        // Stereo goes through one complex transform per frame each way (left + i right), which
        // FFTW does much faster than two real ones; the spectra in between are the same.
        let pair = channelCount == 2 ? StereoTransform(size: size, outSize: outSize) : nil
        let targets = pair == nil ? [] : [RealFFTBuffers(size: outSize), RealFFTBuffers(size: outSize)]
        // Output arrays start `outSize` samples early so frames that begin before sample 0 fit.
        let offset = outSize
        // One array per channel from the start (a repeated array would be copied on its first write).
        var output = (0..<channelCount).map { _ in [Float](repeating: 0, count: outputLength + 2 * outSize + outHop) }

        // Per-frame state, allocated once: raw buffers, so the per-bin loops below carry no
        // uniqueness or bounds checks.
        func buffer<T>(_ count: Int, _ value: T) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            b.initialize(repeating: value)
            return b
        }
        var previousSum = buffer(2 * bins, Float(0))   // last frame's channel sum (complex)
        var sum = buffer(2 * bins, Float(0))
        let power = buffer(bins, Float(0))
        let angle = buffer(bins, Float(0))              // rotation applied per bin
        let previousAngle = buffer(bins, Float(0))
        let rotationRe = buffer(bins + 8, Float(1)), rotationIm = buffer(bins + 8, Float(0))
        let scratch = PeakScratch(bins: bins)
        // Bin frequencies in radians per sample, as the per-peak step needs them.
        let omega = buffer(bins, 0.0)
        for k in 0..<bins { omega[k] = 2 * Double.pi * Double(k) / Double(size) }
        defer {
            for b in [previousSum, sum, power, angle, previousAngle, rotationRe, rotationIm] { b.deallocate() }
            omega.deallocate()
        }
        // Peak bins of the current frame: at most one in three bins (neighbours of a peak cannot be peaks).
        let peakBuffer = buffer(bins, 0)
        defer { peakBuffer.deallocate() }
        // Overlap-add gain: squared Hann windows `outHop` apart sum to 3/8 * outSize / outHop, the
        // inverse FFT is unnormalised, and a spectrum of `size` points carries a factor `size`.
        let scale = Float(1 / (Double(size) * 0.375 * Double(outSize) / Double(outHop)))
        // The synthesis hop measured in input samples before the frame is resampled.
        let stretchedHop = Double(outHop) * Double(size) / Double(outSize)

        // Frame m is centred on output sample m * outHop.
        let firstFrame = -(outSize / 2 + outHop - 1) / outHop
        let lastFrame = (outputLength + outSize / 2) / outHop + 1
        var previousCentre = 0
        var first = true
        let reportEvery = max(1, (lastFrame - firstFrame + 1) / 50)
        for m in firstFrame...lastFrame {
            if (m - firstFrame) % reportEvery == 0 { progress(Double(m - firstFrame) / Double(lastFrame - firstFrame + 1)) }
            let centre = Int((Double(m * outHop) / duration).rounded())
            // Analysis: window and transform each channel, sum them.
            if let pair {
                pair.analyze(audio.channels[0], audio.channels[1], start: centre - half, window: window,
                             into: analysis[0].spectrum, analysis[1].spectrum)
            } else {
            for c in 0..<channelCount {
                let real = analysis[c].real
                audio.channels[c].withUnsafeBufferPointer { x in
                    let start = centre - half
                    let from = max(0, -start), to = min(size, x.count - start)
                    if from > 0 || to < size { for i in 0..<size { real[i] = 0 } }
                    if from < to {
                        VectorOps.multiply(x.baseAddress! + start + from, window + from, into: real.baseAddress! + from, count: to - from)
                    }
                }
                analysisFFT.forward(analysis[c])
            }
            }
            do {
                let x0 = analysis[0].spectrum
                for i in 0..<(2 * bins) { sum[i] = x0[i] }
                for c in 1..<max(channelCount, 1) {
                    let xc = analysis[c].spectrum
                    for i in 0..<(2 * bins) { sum[i] += xc[i] }
                }
                for k in 0..<bins { power[k] = sum[2 * k] * sum[2 * k] + sum[2 * k + 1] * sum[2 * k + 1] }
            }

            if first {
                first = false
            } else {
                let analysisHop = Double(centre - previousCentre)
                let factor = stretchedHop / analysisHop - 1
                let peaks = UnsafeBufferPointer(rebasing: peakBuffer[0..<findPeaks(UnsafeBufferPointer(power), storingInto: peakBuffer.baseAddress!)])
                // New rotation of every peak from its measured frequency.
                advancePeaks(peaks, sum: sum, previousSum: previousSum, omega: omega, analysisHop: analysisHop, factor: factor,
                             previousAngle: previousAngle, angle: angle, scratch: scratch)
                // Each bin takes the rotation of the peak of its region (bounded by the lowest bin between peaks).
                assignRegions(peaks: peaks, power: UnsafeBufferPointer(power), angle: angle, re: rotationRe, im: rotationIm, scratch: scratch)
            }

            // Synthesis: rotate into the output frame's bins, inverse transform, window, overlap-add.
            for c in 0..<channelCount {
                let spectrum = analysis[c].spectrum, target = pair == nil ? synthesis.spectrum : targets[c].spectrum
                rotate(spectrum.baseAddress!, by: rotationRe.baseAddress!, rotationIm.baseAddress!, into: target.baseAddress!, bins: carried)
                for (j, weight) in taper.enumerated() {
                    target[2 * (taperStart + j)] *= weight; target[2 * (taperStart + j) + 1] *= weight
                }
                for i in (2 * carried)..<(2 * outBins) { target[i] = 0 }
                if pair != nil { continue }
                synthesisFFT.inverse(synthesis)
                let real = synthesis.real
                let start = offset + m * outHop - outSize / 2
                output[c].withUnsafeMutableBufferPointer { out in
                    let from = max(0, -start), to = min(outSize, out.count - start)
                    if from < to {
                        VectorOps.accumulate(real.baseAddress! + from, outWindow + from, scale: scale,
                                             into: out.baseAddress! + start + from, count: to - from)
                    }
                }
            }
            if let pair {
                let start = offset + m * outHop - outSize / 2
                // Moved out, so both can be written at once without a copy.
                var left = output[0], right = output[1]
                output[0] = []; output[1] = []
                left.withUnsafeMutableBufferPointer { left in
                    right.withUnsafeMutableBufferPointer { right in
                        pair.synthesize(targets[0].spectrum, targets[1].spectrum, window: outWindow, scale: scale,
                                        into: left, right, start: start)
                    }
                }
                output[0] = left; output[1] = right
            }
            swap(&previousSum, &sum)
            _ = previousAngle.update(fromContentsOf: angle)
            previousCentre = centre
        }
        progress(1)
        for c in output.indices {
            output[c].removeSubrange((offset + outputLength)...)
            output[c].removeSubrange(..<offset)
        }
        return AudioBuffer(channels: output, sampleRate: audio.sampleRate)
    }

    /// Two real channels through one complex FFT each way: analysis of left + i right split into
    /// the two half spectra by conjugate symmetry, synthesis of two half spectra joined into one
    /// full spectrum whose inverse has the left channel as its real part and the right as its
    /// imaginary part. The same spectra and signals as real transforms, to rounding.
    final class StereoTransform {
        let size: Int, outSize: Int
        let forwardFFT: ComplexFFT, backwardFFT: ComplexFFT
        let analysis: ComplexFFTBuffers, synthesis: ComplexFFTBuffers

        init(size: Int, outSize: Int) {
            self.size = size; self.outSize = outSize
            forwardFFT = ComplexFFT.shared(size: size); backwardFFT = ComplexFFT.shared(size: outSize)
            analysis = ComplexFFTBuffers(size: size); synthesis = ComplexFFTBuffers(size: outSize)
        }

        /// Windowed frames of `left` and `right` from `start` (zero outside the signal) into their
        /// half spectra (size/2+1 interleaved complex bins, as a real forward FFT gives them).
        func analyze(_ left: [Float], _ right: [Float], start: Int, window: UnsafePointer<Float>,
                     into l: UnsafeMutableBufferPointer<Float>, _ r: UnsafeMutableBufferPointer<Float>) {
            let z = analysis.input
            let from = max(0, -start), to = min(size, left.count - start)
            if from > 0 || to < size { for i in 0..<(2 * size) { z[i] = 0 } }
            left.withUnsafeBufferPointer { x in
                right.withUnsafeBufferPointer { y in
                    // Four frames at a time, interleaved into (left, right) pairs.
                    var i = from
                    let zp = z.baseAddress!, xp = x.baseAddress! + start, yp = y.baseAddress! + start
                    while i + 4 <= to {
                        let w = UnsafeRawPointer(window + i).loadUnaligned(as: SIMD4<Float>.self)
                        let a = UnsafeRawPointer(xp + i).loadUnaligned(as: SIMD4<Float>.self) * w
                        let b = UnsafeRawPointer(yp + i).loadUnaligned(as: SIMD4<Float>.self) * w
                        VectorOps.store(SIMD8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]), zp, 2 * i)
                        i += 4
                    }
                    while i < to {
                        z[2 * i] = x[start + i] * window[i]
                        z[2 * i + 1] = y[start + i] * window[i]
                        i += 1
                    }
                }
            }
            forwardFFT.forward(analysis)
            // X(k) = (Z(k) + conj Z(N-k)) / 2, Y(k) = (Z(k) - conj Z(N-k)) / 2i.
            let spectrum = analysis.output
            for k in 0...(size / 2) {
                let j = k == 0 ? 0 : size - k
                let a = spectrum[2 * k], b = spectrum[2 * k + 1], c = spectrum[2 * j], d = spectrum[2 * j + 1]
                l[2 * k] = 0.5 * (a + c); l[2 * k + 1] = 0.5 * (b - d)
                r[2 * k] = 0.5 * (b + d); r[2 * k + 1] = 0.5 * (c - a)
            }
        }

        /// The inverse of the half spectra `l` and `r` (outSize/2+1 bins; the imaginary parts of
        /// the DC and Nyquist bins ignored, as a real inverse FFT ignores them), windowed, scaled and
        /// added into `left` and `right` from `start`.
        func synthesize(_ l: UnsafeMutableBufferPointer<Float>, _ r: UnsafeMutableBufferPointer<Float>,
                        window: UnsafePointer<Float>, scale: Float,
                        into left: UnsafeMutableBufferPointer<Float>, _ right: UnsafeMutableBufferPointer<Float>, start: Int) {
            let n = outSize, w = synthesis.input
            // W(k) = L(k) + i R(k), W(n-k) = conj L(k) + i conj R(k).
            w[0] = l[0]; w[1] = r[0]
            var k = 1
            while 2 * k < n {
                let lr = l[2 * k], li = l[2 * k + 1], rr = r[2 * k], ri = r[2 * k + 1]
                w[2 * k] = lr - ri; w[2 * k + 1] = li + rr
                w[2 * (n - k)] = lr + ri; w[2 * (n - k) + 1] = rr - li
                k += 1
            }
            if n % 2 == 0 { w[n] = l[n]; w[n + 1] = r[n] }
            backwardFFT.backward(synthesis)
            let out = synthesis.output
            let from = max(0, -start), to = min(n, left.count - start)
            guard from < to else { return }
            // Four frames at a time, the (left, right) pairs split.
            var i = from
            let o = out.baseAddress!, lp = left.baseAddress! + start, rp = right.baseAddress! + start
            let s4 = SIMD4<Float>(repeating: scale)
            while i + 4 <= to {
                let v = VectorOps.load(o, 2 * i)
                let w = UnsafeRawPointer(window + i).loadUnaligned(as: SIMD4<Float>.self)
                let l = UnsafeRawPointer(lp + i).loadUnaligned(as: SIMD4<Float>.self) + v.evenHalf * w * s4
                let r = UnsafeRawPointer(rp + i).loadUnaligned(as: SIMD4<Float>.self) + v.oddHalf * w * s4
                UnsafeMutableRawPointer(lp + i).storeBytes(of: l, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(rp + i).storeBytes(of: r, as: SIMD4<Float>.self)
                i += 4
            }
            while i < to {
                left[start + i] += out[2 * i] * window[i] * scale
                right[start + i] += out[2 * i + 1] * window[i] * scale
                i += 1
            }
        }
    }

    /// Work arrays for the per-peak steps, one per transform.
    final class PeakScratch {
        let re: UnsafeMutableBufferPointer<Float>, im: UnsafeMutableBufferPointer<Float>
        let cosine: UnsafeMutableBufferPointer<Float>, sine: UnsafeMutableBufferPointer<Float>
        /// The peaks' new angles in peak order.
        let angle: UnsafeMutableBufferPointer<Float>
        /// 1 at the first bin of every region but the first, per bin.
        let starts: UnsafeMutableBufferPointer<UInt8>
        init(bins: Int) {
            let count = bins + 8
            re = .allocate(capacity: count); im = .allocate(capacity: count)
            cosine = .allocate(capacity: count); sine = .allocate(capacity: count)
            angle = .allocate(capacity: count)
            starts = .allocate(capacity: count)
            for b in [re, im, cosine, sine, angle] { b.initialize(repeating: 0) }
            starts.initialize(repeating: 0)
        }
        deinit {
            for b in [re, im, cosine, sine, angle] { b.deallocate() }
            starts.deallocate()
        }
    }

    /// Local maxima of `power` over +/-2 bins (strictly above the two below, at least the two above,
    /// above 1e-20), in ascending order. Compared eight bins at a time without branches: data-dependent
    /// branches over a spectrum are mispredicted about as often as not.
    static func findPeaks(_ p: UnsafeBufferPointer<Float>, into peaks: inout [Int]) {
        peaks = [Int](repeating: 0, count: p.count)
        let count = peaks.withUnsafeMutableBufferPointer { findPeaks(p, storingInto: $0.baseAddress!) }
        peaks.removeSubrange(count...)
    }

    /// The same into `peaks` (room for `p.count` values), returning how many.
    static func findPeaks(_ p: UnsafeBufferPointer<Float>, storingInto peaks: UnsafeMutablePointer<Int>) -> Int {
        let n = p.count
        guard n >= 5, let base = p.baseAddress else { return 0 }
        typealias V = SIMD8<Float>
        let weights = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128), floor = V(repeating: 1e-20)
        var count = 0
        var k = 2
        while k + 8 <= n - 2 {
            let v = VectorOps.load(base, k)
            let mask = (v .> VectorOps.load(base, k - 1)) .& (v .>= VectorOps.load(base, k + 1))
                .& (v .> VectorOps.load(base, k - 2)) .& (v .>= VectorOps.load(base, k + 2)) .& (v .> floor)
            var bits = SIMD8<UInt32>.zero.replacing(with: weights, where: mask).wrappedSum()
            while bits != 0 {
                peaks[count] = k + bits.trailingZeroBitCount
                count += 1
                bits &= bits - 1
            }
            k += 8
        }
        while k < n - 2 {
            let v = p[k]
            if v > p[k - 1] && v >= p[k + 1] && v > p[k - 2] && v >= p[k + 2] && v > 1e-20 { peaks[count] = k; count += 1 }
            k += 1
        }
        return count
    }

    /// The new angle of every peak: its phase advance over the analysis hop, measured from the
    /// channel sums of this frame and the last (the expected advance of its bin plus the wrapped
    /// deviation), scaled to the synthesis hop and added to its last angle.
    static func advancePeaks(_ peaks: UnsafeBufferPointer<Int>, sum: UnsafeMutableBufferPointer<Float>, previousSum: UnsafeMutableBufferPointer<Float>,
                             omega: UnsafeMutableBufferPointer<Double>, analysisHop: Double, factor: Double,
                             previousAngle: UnsafeMutableBufferPointer<Float>, angle: UnsafeMutableBufferPointer<Float>,
                             scratch: PeakScratch) {
        let count = peaks.count
        let re = scratch.re, im = scratch.im
        do {
            for j in 0..<count {
                let p = peaks[j]
                re[j] = sum[2 * p] * previousSum[2 * p] + sum[2 * p + 1] * previousSum[2 * p + 1]
                im[j] = sum[2 * p + 1] * previousSum[2 * p] - sum[2 * p] * previousSum[2 * p + 1]
            }
            // The measured phase differences eight at a time (in place of `re`).
            var j = 0
            while j < count {
                VectorOps.store(FastMath.atan2(VectorOps.load(im.baseAddress!, j), VectorOps.load(re.baseAddress!, j)), re.baseAddress!, j)
                j += 8
            }
            for j in 0..<count {
                let p = peaks[j]
                let expected = omega[p] * analysisHop
                let advance = expected + principal(Double(re[j]) - expected) // true phase advance over the analysis hop
                let a = Float(principal(Double(previousAngle[p]) + advance * factor))
                angle[p] = a
                scratch.angle[j] = a
            }
        }
    }

    /// Gives every bin the rotation of the peak of its region (bounded by the weakest bin between
    /// two peaks, the first such bin on a tie): `angle` holds the peaks' new angles on entry.
    static func assignRegions(peaks: UnsafeBufferPointer<Int>, power: UnsafeBufferPointer<Float>, angle: UnsafeMutableBufferPointer<Float>,
                              re: UnsafeMutableBufferPointer<Float>, im: UnsafeMutableBufferPointer<Float>, scratch: PeakScratch) {
        let bins = power.count
        guard !peaks.isEmpty else {
            for k in 0..<bins { re[k] = cos(angle[k]); im[k] = sin(angle[k]) }
            return
        }
        // The peaks' cos and sin eight at a time (a libm call per peak cost more than the rest),
        // from `scratch.angle`, which `advancePeaks` filled in peak order.
        let count = peaks.count
        let peakCos = scratch.cosine, peakSin = scratch.sine
        do {
            var j = 0
            while j < count {
                let (c, s) = FastMath.cosSin(VectorOps.load(scratch.angle.baseAddress!, j))
                VectorOps.store(c, peakCos.baseAddress!, j)
                VectorOps.store(s, peakSin.baseAddress!, j)
                j += 8
            }
            // Where each region after the first begins: the weakest bin between two peaks (selects,
            // not branches: the comparison is unpredictable). Peaks are at least 3 bins apart.
            let starts = scratch.starts
            for k in 0..<bins { starts[k] = 0 }
            for j in 0..<(count - 1) {
                let p = peaks[j], next = peaks[j + 1]
                var weakest = p + 1, least = power[p + 1]
                for k in (p + 2)..<max(p + 2, next) {
                    let v = power[k], isLess = v < least
                    least = isLess ? v : least
                    weakest = isLess ? k : weakest
                }
                starts[weakest] = 1
            }
            // Every bin takes its region's peak values, the region counted along the way: one
            // loop of fixed length instead of a loop per region, whose varying lengths mispredict.
            let peakAngle = scratch.angle
            var region = 0
            for k in 0..<bins {
                region &+= Int(starts[k])
                angle[k] = peakAngle[region]; re[k] = peakCos[region]; im[k] = peakSin[region]
            }
        }
    }

    /// target[k] = spectrum[k] * (re[k] + i im[k]) for k in 0..<bins, interleaved complex, four
    /// bins at a time. `re` and `im` must hold at least `bins` rounded up to 4 values.
    static func rotate(_ spectrum: UnsafePointer<Float>, by re: UnsafePointer<Float>, _ im: UnsafePointer<Float>,
                       into target: UnsafeMutablePointer<Float>, bins: Int) {
        var k = 0
        while k + 4 <= bins {
            let x = VectorOps.load(spectrum, 2 * k)
            let xr = x.evenHalf, xi = x.oddHalf
            let cr = UnsafeRawPointer(re + k).loadUnaligned(as: SIMD4<Float>.self)
            let ci = UnsafeRawPointer(im + k).loadUnaligned(as: SIMD4<Float>.self)
            let tr = xr * cr - xi * ci, ti = xr * ci + xi * cr
            VectorOps.store(SIMD8(tr[0], ti[0], tr[1], ti[1], tr[2], ti[2], tr[3], ti[3]), target, 2 * k)
            k += 4
        }
        while k < bins {
            let xr = spectrum[2 * k], xi = spectrum[2 * k + 1]
            target[2 * k] = xr * re[k] - xi * im[k]
            target[2 * k + 1] = xr * im[k] + xi * re[k]
            k += 1
        }
    }

    /// The angle wrapped into (-pi, pi].
    @inline(__always)
    static func principal(_ x: Double) -> Double {
        // floor by conversion: `rounded(.down)` is a libm call on baseline x86-64, and this runs per peak.
        let turns = (x + Double.pi) * (0.5 / Double.pi)
        var whole = Double(Int(turns))
        if whole > turns { whole -= 1 }
        return x - 2 * Double.pi * whole
    }
}
