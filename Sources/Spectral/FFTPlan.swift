import CFFTW
import Foundation
import Synchronization

/// A real-to-complex FFTW plan for one transform size, made once and shared.
///
/// FFTW's planner is not thread-safe, so plans are created under a process-wide lock and cached;
/// executing a plan on other (equally aligned) arrays with the new-array API is thread-safe, so
/// `transform` may be called from any thread with buffers from `FFTBuffers`.
public final class FFTPlan: @unchecked Sendable {
    public let size: Int
    private let plan: fftwf_plan

    private static let cache = Mutex<[Int: FFTPlan]>([:])

    /// The shared plan for `size` (even, at least 2).
    public static func realForward(size: Int) -> FFTPlan {
        precondition(size >= 2 && size % 2 == 0, "FFT size must be even")
        return cache.withLock { plans in
            if let plan = plans[size] { return plan }
            let plan = FFTPlan(size: size)
            plans[size] = plan
            return plan
        }
    }

    private init(size: Int) {
        FFTWPlanner.prepare()
        self.size = size
        let input = fftwf_alloc_real(size)!
        let output = fftwf_alloc_complex(size / 2 + 1)!
        defer { fftwf_free(input); fftwf_free(output) }
        // ESTIMATE, not MEASURE: MEASURE chooses among algorithms by timing them, so processes
        // round differently and a peak at a tie comes and goes (the same master gave 725 or 726
        // peaks from one `tracemark inspect` to the next). Fingerprints must not depend on the run.
        plan = fftwf_plan_dft_r2c_1d(Int32(size), input, output, UInt32(FFTW_ESTIMATE))
    }

    /// Transforms `buffers.input` into `buffers.output` (size/2+1 complex bins).
    public func transform(_ buffers: FFTBuffers) {
        precondition(buffers.size == size)
        fftwf_execute_dft_r2c(plan, buffers.input, buffers.output)
    }
}

/// SIMD-aligned work arrays for one thread's transforms of one size. Not thread-safe.
public final class FFTBuffers {
    public let size: Int
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<fftwf_complex>

    public init(size: Int) {
        self.size = size
        input = fftwf_alloc_real(size)!
        output = fftwf_alloc_complex(size / 2 + 1)!
    }

    deinit {
        fftwf_free(input)
        fftwf_free(output)
    }

    public var real: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: input, count: size) }

    /// Squared magnitude of bin `k` of the last transform.
    @inline(__always)
    public func power(_ k: Int) -> Float {
        let c = output[k]
        return c.0 * c.0 + c.1 * c.1
    }

    /// Real and imaginary parts of bin `k` of the last transform.
    @inline(__always)
    public func bin(_ k: Int) -> (re: Float, im: Float) { (output[k].0, output[k].1) }
}

/// The FFTW this build links, for `tracemark doctor`.
public enum FFTLibrary {
    /// `fftwf_version` is a C array of unknown size, which Swift does not import: found by name.
    public static var version: String {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fftwf_version") else { return "fftw3f (version not readable)" }
        return String(cString: symbol.assumingMemoryBound(to: CChar.self))
    }
}
