import CFFTW
import Synchronization

/// A pair of FFTW plans for one size: real-to-complex forward and complex-to-real inverse, made
/// once and shared, for analysis-resynthesis (phase vocoder, masking). Plans are created under a
/// process-wide lock; executing them with the new-array API on `RealFFTBuffers` of the same size is
/// thread-safe. (`FFTPlan` keeps its own cache for the forward-only fingerprinting path.)
public final class RealFFT: @unchecked Sendable {
    public let size: Int
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    private static let cache = Mutex<[Int: RealFFT]>([:])

    /// The shared plans for `size` (at least 2; FFTW is fastest on sizes whose factors are all small primes).
    public static func shared(size: Int) -> RealFFT {
        precondition(size >= 2, "FFT size must be at least 2")
        return cache.withLock { plans in
            if let plan = plans[size] { return plan }
            let plan = RealFFT(size: size)
            plans[size] = plan
            return plan
        }
    }

    private init(size: Int) {
        FFTWPlanner.prepare()
        self.size = size
        let buffers = RealFFTBuffers(size: size)
        // ESTIMATE, not MEASURE: measured on a 3-minute stereo time stretch (tools/bench/remix), the
        // whole job ran in 0.62 s with estimated plans and 0.90 s with measured ones, and sizes that
        // are not powers of two take a second or more to measure.
        let flags = UInt32(FFTW_ESTIMATE)
        forwardPlan = fftwf_plan_dft_r2c_1d(Int32(size), buffers.realPointer, buffers.complexPointer, flags)
        inversePlan = fftwf_plan_dft_c2r_1d(Int32(size), buffers.complexPointer, buffers.realPointer, flags)
    }

    /// `buffers.real` -> `buffers.spectrum` (size/2+1 bins, interleaved re/im).
    public func forward(_ buffers: RealFFTBuffers) {
        precondition(buffers.size == size)
        fftwf_execute_dft_r2c(forwardPlan, buffers.realPointer, buffers.complexPointer)
    }

    /// `buffers.spectrum` -> `buffers.real`, unnormalised (a round trip multiplies by `size`).
    /// Overwrites the spectrum, as FFTW's complex-to-real transforms do.
    public func inverse(_ buffers: RealFFTBuffers) {
        precondition(buffers.size == size)
        fftwf_execute_dft_c2r(inversePlan, buffers.complexPointer, buffers.realPointer)
    }
}

/// SIMD-aligned work arrays for one thread's transforms of one size: `real` holds `size` samples,
/// `spectrum` holds `size/2+1` complex bins as interleaved (re, im) floats. Not thread-safe.
public final class RealFFTBuffers {
    public let size: Int
    let realPointer: UnsafeMutablePointer<Float>
    let complexPointer: UnsafeMutablePointer<fftwf_complex>

    public init(size: Int) {
        self.size = size
        realPointer = fftwf_alloc_real(size)!
        complexPointer = fftwf_alloc_complex(size / 2 + 1)!
        real.initialize(repeating: 0)
        spectrum.initialize(repeating: 0)
    }

    deinit {
        fftwf_free(realPointer)
        fftwf_free(complexPointer)
    }

    public var binCount: Int { size / 2 + 1 }

    public var real: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: realPointer, count: size) }

    /// Bin k is (spectrum[2k], spectrum[2k+1]). fftwf_complex is two contiguous floats.
    public var spectrum: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(complexPointer).assumingMemoryBound(to: Float.self),
                                   count: 2 * binCount)
    }
}
