import CFFTW
import Synchronization

/// A pair of FFTW plans for one size: complex-to-complex forward and backward (unnormalised), made
/// once and shared. Two real signals transformed as the real and imaginary parts of one complex
/// signal cost one such transform instead of two real ones, which FFTW does markedly faster here
/// (measured with its estimated plans on 3-minute stereo time stretches, docs/remix.md).
/// Executing with the new-array API on `ComplexFFTBuffers` of the same size is thread-safe.
public final class ComplexFFT: @unchecked Sendable {
    public let size: Int
    private let forwardPlan: fftwf_plan
    private let backwardPlan: fftwf_plan

    private static let cache = Mutex<[Int: ComplexFFT]>([:])

    /// The shared plans for `size` (at least 2).
    public static func shared(size: Int) -> ComplexFFT {
        precondition(size >= 2, "FFT size must be at least 2")
        return cache.withLock { plans in
            if let plan = plans[size] { return plan }
            let plan = ComplexFFT(size: size)
            plans[size] = plan
            return plan
        }
    }

    private init(size: Int) {
        FFTWPlanner.prepare()
        self.size = size
        let buffers = ComplexFFTBuffers(size: size)
        // ESTIMATE, as RealFFT: measured plans are chosen by timing, so output would differ from
        // run to run, and the same input must give the same samples.
        let flags = UInt32(FFTW_ESTIMATE)
        forwardPlan = fftwf_plan_dft_1d(Int32(size), buffers.inputPointer, buffers.outputPointer, FFTW_FORWARD, flags)
        backwardPlan = fftwf_plan_dft_1d(Int32(size), buffers.inputPointer, buffers.outputPointer, FFTW_BACKWARD, flags)
    }

    /// `buffers.input` -> `buffers.output`, e^(-i...).
    public func forward(_ buffers: ComplexFFTBuffers) {
        precondition(buffers.size == size)
        fftwf_execute_dft(forwardPlan, buffers.inputPointer, buffers.outputPointer)
    }

    /// `buffers.input` -> `buffers.output`, e^(+i...), unnormalised (a round trip multiplies by `size`).
    public func backward(_ buffers: ComplexFFTBuffers) {
        precondition(buffers.size == size)
        fftwf_execute_dft(backwardPlan, buffers.inputPointer, buffers.outputPointer)
    }
}

/// SIMD-aligned input and output arrays of `size` complex values, each interleaved (re, im)
/// floats. Not thread-safe.
public final class ComplexFFTBuffers {
    public let size: Int
    let inputPointer: UnsafeMutablePointer<fftwf_complex>
    let outputPointer: UnsafeMutablePointer<fftwf_complex>

    public init(size: Int) {
        self.size = size
        inputPointer = fftwf_alloc_complex(size)!
        outputPointer = fftwf_alloc_complex(size)!
        input.initialize(repeating: 0)
        output.initialize(repeating: 0)
    }

    deinit {
        fftwf_free(inputPointer)
        fftwf_free(outputPointer)
    }

    /// Value k is (input[2k], input[2k+1]).
    public var input: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(inputPointer).assumingMemoryBound(to: Float.self), count: 2 * size)
    }

    public var output: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(outputPointer).assumingMemoryBound(to: Float.self), count: 2 * size)
    }
}
