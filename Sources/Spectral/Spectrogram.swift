/// A magnitude spectrogram: `frameCount` frames of `binCount` bins, stored frame-major.
public struct Spectrogram: Sendable {
    public let frameCount: Int
    public let binCount: Int
    public let hop: Int
    public let sampleRate: Int
    public var values: [Float]

    public init(frameCount: Int, binCount: Int, hop: Int, sampleRate: Int, values: [Float]) {
        precondition(values.count == frameCount * binCount)
        self.frameCount = frameCount
        self.binCount = binCount
        self.hop = hop
        self.sampleRate = sampleRate
        self.values = values
    }

    @inline(__always)
    public subscript(frame: Int, bin: Int) -> Float {
        get { values[frame * binCount + bin] }
        set { values[frame * binCount + bin] = newValue }
    }

    /// Seconds from the start of the signal to the start of `frame`.
    public func time(ofFrame frame: Int) -> Double { Double(frame * hop) / Double(sampleRate) }
}

/// Short-time Fourier transform with a Hann window.
public struct STFT: Sendable {
    public let size: Int
    public let hop: Int
    public let window: [Float]
    private let plan: FFTPlan

    public init(size: Int, hop: Int) {
        precondition(hop > 0 && hop <= size)
        self.size = size
        self.hop = hop
        self.window = Window.hann(size)
        self.plan = FFTPlan.realForward(size: size)
    }

    public var binCount: Int { size / 2 + 1 }

    /// Number of whole frames in `sampleCount` samples.
    public func frameCount(sampleCount: Int) -> Int {
        sampleCount < size ? 0 : (sampleCount - size) / hop + 1
    }

    /// Power (squared magnitude) spectrogram of `signal`; frames start at multiples of `hop`.
    public func powerSpectrogram(_ signal: [Float], sampleRate: Int) -> Spectrogram {
        let frames = frameCount(sampleCount: signal.count)
        let bins = binCount
        var values = [Float](repeating: 0, count: frames * bins)
        let buffers = FFTBuffers(size: size)
        let real = buffers.real
        signal.withUnsafeBufferPointer { x in
            window.withUnsafeBufferPointer { w in
                for f in 0..<frames {
                    let start = f * hop
                    for i in 0..<size { real[i] = x[start + i] * w[i] }
                    plan.transform(buffers)
                    let row = f * bins
                    for k in 0..<bins { values[row + k] = buffers.power(k) }
                }
            }
        }
        return Spectrogram(frameCount: frames, binCount: bins, hop: hop, sampleRate: sampleRate, values: values)
    }
}
