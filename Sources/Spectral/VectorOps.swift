/// Element-wise loops over raw buffers, eight lanes at a time. The compiler does not vectorise
/// loops through unsafe pointers on its own (it cannot rule out aliasing), and these run once per
/// sample of every frame in the phase vocoder and the STFT.
public enum VectorOps {
    @usableFromInline typealias Lanes = SIMD8<Float>

    // Lane-wise min, max and clamp as compare-and-select: the standard library's `pointwiseMin`,
    // `pointwiseMax` and `clamped` go lane by lane through Float's NaN-aware min and max, which
    // measured several times slower in the median filter.
    @inlinable @inline(__always)
    public static func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }

    @inlinable @inline(__always)
    public static func clamp(_ v: SIMD8<Float>, _ low: SIMD8<Float>, _ high: SIMD8<Float>) -> SIMD8<Float> {
        maximum(minimum(v, high), low)
    }

    @inlinable @inline(__always)
    public static func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> { maximum(v, -v) }

    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }

    @inlinable @inline(__always)
    public static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Lanes.self)
    }

    /// z[i] = x[i] * y[i] for i in 0..<count.
    public static func multiply(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store(load(x, i) * load(y, i), z, i); i += 8 }
        while i < count { z[i] = x[i] * y[i]; i += 1 }
    }

    /// z[i] += x[i] * y[i] * scale for i in 0..<count.
    public static func accumulate(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, scale: Float, into z: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let s = Lanes(repeating: scale)
        while i + 8 <= count { store(load(z, i) + load(x, i) * load(y, i) * s, z, i); i += 8 }
        while i < count { z[i] += x[i] * y[i] * scale; i += 1 }
    }

    /// peak[i] = max(peak[i], |x[i]|) for i in 0..<count.
    public static func accumulateMaximumMagnitude(_ x: UnsafePointer<Float>, into peak: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store(maximum(load(peak, i), magnitude(load(x, i))), peak, i); i += 8 }
        while i < count { peak[i] = max(peak[i], abs(x[i])); i += 1 }
    }

    /// Applies `f` to every element of `x` in place, eight at a time (the last lanes padded with zeros).
    @inlinable @inline(__always)
    public static func transform(_ x: UnsafeMutableBufferPointer<Float>, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        guard let base = x.baseAddress else { return }
        var i = 0
        while i + 8 <= x.count { store(f(load(base, i)), base, i); i += 8 }
        if i < x.count {
            var v = Lanes()
            for j in i..<x.count { v[j - i] = base[j] }
            let r = f(v)
            for j in i..<x.count { base[j] = r[j - i] }
        }
    }
}
