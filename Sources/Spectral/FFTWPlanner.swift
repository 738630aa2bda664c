import CFFTW

/// FFTW's planner is not thread-safe, and `FFTPlan` and `RealFFT` keep separate caches: before
/// either makes a plan, FFTW is told to serialise planning itself (libfftw3f_threads), so plans can
/// be made from any thread by any module.
enum FFTWPlanner {
    private static let threadSafe: Bool = {
        fftwf_make_planner_thread_safe()
        return true
    }()

    static func prepare() { _ = threadSafe }
}
