import Audio
import Foundation
import Spectral

/// Time stretching with pitch kept: a phase vocoder with identity phase locking (Laroche and
/// Dolson, 1999). Each frame's spectral peaks get the phase their measured instantaneous frequency
/// calls for at the synthesis hop; every other bin is rotated by the same angle as the peak whose
/// region it lies in, which keeps each partial's bins coherent (no "phasiness").
///
/// Channels share one set of rotations, computed from their sum, so inter-channel phase and with it
/// the stereo image survive the stretch. Frames are Hann-windowed at both ends, hop = size/4.
enum PhaseVocoder {
    /// FFT size for a sample rate: about 46 ms (2048 at 44.1 and 48 kHz).
    static func frameSize(sampleRate: Int) -> Int {
        var n = 256
        while Double(n) < 0.035 * Double(sampleRate) { n *= 2 }
        return n
    }

    /// Returns `audio` lasting `factor` times as long (exactly `round(frames * factor)` frames).
    static func stretch(_ audio: AudioBuffer, factor: Double, progress: (Double) -> Void = { _ in }) -> AudioBuffer {
        let size = frameSize(sampleRate: audio.sampleRate)
        let hop = size / 4
        let half = size / 2
        let bins = size / 2 + 1
        let inputLength = audio.frameCount
        let outputLength = Int((Double(inputLength) * factor).rounded())
        let channelCount = audio.channelCount
        let fft = RealFFT.shared(size: size)
        let window = Window.hann(size)
        let buffers = (0..<channelCount).map { _ in RealFFTBuffers(size: size) }
        var output = [[Float]](repeating: [Float](repeating: 0, count: outputLength + size + hop), count: channelCount)

        var previousSum = [Float](repeating: 0, count: 2 * bins)   // last frame's channel sum (complex)
        var sum = [Float](repeating: 0, count: 2 * bins)
        var power = [Float](repeating: 0, count: bins)
        var angle = [Float](repeating: 0, count: bins)              // rotation applied per bin
        var previousAngle = [Float](repeating: 0, count: bins)
        var rotationRe = [Float](repeating: 1, count: bins), rotationIm = [Float](repeating: 0, count: bins)
        var peaks = [Int](); peaks.reserveCapacity(bins / 2)
        // Overlap-add gain: the squared Hann windows of 4 overlapping frames sum to 1.5; FFTW's inverse scales by `size`.
        let scale = 1 / (1.5 * Float(size))
        let synthesisHop = Double(hop)

        // Frame m is centred on output sample m * hop; the first one that reaches sample 0 is m = -1.
        let lastFrame = (outputLength + half) / hop + 1
        var previousCentre = 0
        var first = true
        let reportEvery = max(1, (lastFrame + 2) / 50)
        for m in -1...lastFrame {
            if m % reportEvery == 0 { progress(Double(m + 1) / Double(lastFrame + 2)) }
            let centre = Int((Double(m) * synthesisHop / factor).rounded())
            // Analysis: window and transform each channel, sum them.
            for c in 0..<channelCount {
                let real = buffers[c].real
                audio.channels[c].withUnsafeBufferPointer { x in
                    let start = centre - half
                    if start >= 0 && start + size <= x.count {
                        for i in 0..<size { real[i] = x[start + i] * window[i] }
                    } else {
                        for i in 0..<size {
                            let n = start + i
                            real[i] = n >= 0 && n < x.count ? x[n] * window[i] : 0
                        }
                    }
                }
                fft.forward(buffers[c])
            }
            sum.withUnsafeMutableBufferPointer { s in
                power.withUnsafeMutableBufferPointer { p in
                    let x0 = buffers[0].spectrum
                    for i in 0..<(2 * bins) { s[i] = x0[i] }
                    for c in 1..<max(channelCount, 1) {
                        let xc = buffers[c].spectrum
                        for i in 0..<(2 * bins) { s[i] += xc[i] }
                    }
                    for k in 0..<bins { p[k] = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1] }
                }
            }

            if first {
                first = false
            } else {
                let analysisHop = Double(centre - previousCentre)
                findPeaks(power, into: &peaks)
                // New rotation of every peak from its measured frequency.
                for p in peaks {
                    let re = sum[2 * p] * previousSum[2 * p] + sum[2 * p + 1] * previousSum[2 * p + 1]
                    let im = sum[2 * p + 1] * previousSum[2 * p] - sum[2 * p] * previousSum[2 * p + 1]
                    let measured = Double(atan2(im, re))
                    let expected = 2 * Double.pi * Double(p) / Double(size) * analysisHop
                    let advance = expected + principal(measured - expected) // true phase advance over the analysis hop
                    let rotation = Double(previousAngle[p]) + advance * (synthesisHop / analysisHop - 1)
                    angle[p] = Float(principal(rotation))
                }
                // Each bin takes the rotation of the peak of its region (bounded by the lowest bin between peaks).
                assignRegions(peaks: peaks, power: power, angle: &angle, re: &rotationRe, im: &rotationIm)
            }

            // Synthesis: rotate, inverse transform, window, overlap-add.
            for c in 0..<channelCount {
                let spectrum = buffers[c].spectrum
                rotationRe.withUnsafeBufferPointer { cr in
                    rotationIm.withUnsafeBufferPointer { ci in
                        for k in 0..<bins {
                            let re = spectrum[2 * k], im = spectrum[2 * k + 1]
                            spectrum[2 * k] = re * cr[k] - im * ci[k]
                            spectrum[2 * k + 1] = re * ci[k] + im * cr[k]
                        }
                    }
                }
                fft.inverse(buffers[c])
                let real = buffers[c].real
                let start = m * hop - half + hop // output arrays are offset by one hop (m starts at -1)
                output[c].withUnsafeMutableBufferPointer { out in
                    for i in 0..<size {
                        let n = start + i
                        if n >= 0 && n < out.count { out[n] += real[i] * window[i] * scale }
                    }
                }
            }
            swap(&previousSum, &sum)
            previousAngle = angle
            previousCentre = centre
        }
        progress(1)
        let channels = output.map { Array($0[hop..<(hop + outputLength)]) }
        return AudioBuffer(channels: channels, sampleRate: audio.sampleRate)
    }

    /// Local maxima of `power` over +/-2 bins.
    static func findPeaks(_ power: [Float], into peaks: inout [Int]) {
        peaks.removeAll(keepingCapacity: true)
        let n = power.count
        power.withUnsafeBufferPointer { p in
            var k = 2
            while k < n - 2 {
                let v = p[k]
                if v > p[k - 1] && v >= p[k + 1] && v > p[k - 2] && v >= p[k + 2] && v > 1e-20 {
                    peaks.append(k)
                    k += 2 // neighbours of a peak cannot be peaks
                } else {
                    k += 1
                }
            }
        }
    }

    static func assignRegions(peaks: [Int], power: [Float], angle: inout [Float], re: inout [Float], im: inout [Float]) {
        let bins = power.count
        guard !peaks.isEmpty else {
            for k in 0..<bins { re[k] = cos(angle[k]); im[k] = sin(angle[k]) }
            return
        }
        var lower = 0
        for (j, p) in peaks.enumerated() {
            var upper = bins
            if j + 1 < peaks.count {
                // Region ends at the weakest bin between this peak and the next.
                let next = peaks[j + 1]
                var weakest = p + 1
                for k in (p + 1)..<next where power[k] < power[weakest] { weakest = k }
                upper = weakest
            }
            let a = angle[p]
            let c = cos(a), s = sin(a)
            for k in lower..<upper { angle[k] = a; re[k] = c; im[k] = s }
            lower = upper
        }
    }

    /// The angle wrapped into (-pi, pi].
    @inline(__always)
    static func principal(_ x: Double) -> Double {
        x - 2 * Double.pi * ((x + Double.pi) / (2 * Double.pi)).rounded(.down)
    }
}
