/// A complex spectrogram: `frameCount` frames of `binCount` bins, frame-major, each bin two floats
/// (re, im). Frame f starts at sample `f * hop - padding` of the signal it came from.
public struct ComplexSpectrogram: Sendable {
    public let frameCount: Int
    public let binCount: Int
    public let hop: Int
    public let size: Int
    /// Samples of silence assumed before the signal, so every sample is covered by size/hop frames.
    public var padding: Int { size - hop }
    /// Length of the analysed signal, so that synthesis returns exactly as many samples.
    public let signalLength: Int
    public var values: [Float]

    public init(frameCount: Int, binCount: Int, hop: Int, size: Int, signalLength: Int, values: [Float]) {
        precondition(values.count == frameCount * binCount * 2)
        self.frameCount = frameCount
        self.binCount = binCount
        self.hop = hop
        self.size = size
        self.signalLength = signalLength
        self.values = values
    }
}

/// STFT analysis and weighted overlap-add resynthesis with a periodic Hann window at both ends.
/// With hop = size/4 an unmodified spectrogram resynthesises the signal exactly (to rounding):
/// the squared windows of the four overlapping frames sum to the constant 1.5.
public struct ComplexSTFT: Sendable {
    public let size: Int
    public let hop: Int
    public let window: [Float]
    private let fft: RealFFT

    public init(size: Int, hop: Int) {
        precondition(size >= 8 && size % 4 == 0 && hop == size / 4, "ComplexSTFT needs hop = size/4")
        self.size = size
        self.hop = hop
        self.window = Window.hann(size)
        self.fft = RealFFT.shared(size: size)
    }

    public var binCount: Int { size / 2 + 1 }

    public func analyze(_ signal: [Float]) -> ComplexSpectrogram {
        let padding = size - hop
        let frames = signal.isEmpty ? 0 : (signal.count + padding + hop - 1) / hop
        let bins = binCount
        var values = [Float](repeating: 0, count: frames * bins * 2)
        let buffers = RealFFTBuffers(size: size)
        let real = buffers.real, spectrum = buffers.spectrum
        signal.withUnsafeBufferPointer { x in
            window.withUnsafeBufferPointer { w in
                values.withUnsafeMutableBufferPointer { out in
                    for f in 0..<frames {
                        let start = f * hop - padding
                        for i in 0..<size {
                            let n = start + i
                            real[i] = n >= 0 && n < x.count ? x[n] * w[i] : 0
                        }
                        fft.forward(buffers)
                        let base = f * bins * 2
                        for i in 0..<(2 * bins) { out[base + i] = spectrum[i] }
                    }
                }
            }
        }
        return ComplexSpectrogram(frameCount: frames, binCount: bins, hop: hop, size: size,
                                  signalLength: signal.count, values: values)
    }

    public func synthesize(_ spectrogram: ComplexSpectrogram) -> [Float] {
        precondition(spectrogram.size == size && spectrogram.hop == hop)
        let length = spectrogram.signalLength
        let padding = size - hop
        var output = [Float](repeating: 0, count: length + padding + size)
        let buffers = RealFFTBuffers(size: size)
        let real = buffers.real, spectrum = buffers.spectrum
        let bins = binCount
        // Window-square sum 1.5 and FFTW's unnormalised inverse (factor `size`).
        let scale = 1 / (1.5 * Float(size))
        spectrogram.values.withUnsafeBufferPointer { values in
            window.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { out in
                    for f in 0..<spectrogram.frameCount {
                        let base = f * bins * 2
                        for i in 0..<(2 * bins) { spectrum[i] = values[base + i] }
                        fft.inverse(buffers)
                        let start = f * hop // in the padded output
                        for i in 0..<size { out[start + i] += real[i] * w[i] * scale }
                    }
                }
            }
        }
        return Array(output[padding..<(padding + length)])
    }
}
