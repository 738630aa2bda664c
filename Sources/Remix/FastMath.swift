import Spectral

/// Per-sample math for dynamics and waveshaping, accurate far beyond what is audible and free of
/// libm calls, which cost more than everything else in those loops (measured by tools/bench/remix).
enum FastMath {
    /// log2(x) for positive normal x, within 3.2e-5 (0.0002 dB): exponent bits plus a degree-5
    /// Chebyshev fit of log2 on the mantissa in [1, 2).
    @inline(__always)
    static func log2(_ x: Float) -> Float {
        let bits = x.bitPattern
        let exponent = Float(Int32(bitPattern: (bits >> 23) & 0xFF) - 127)
        let m = Float(bitPattern: (bits & 0x7F_FFFF) | 0x3F80_0000) - 1
        let p = 3.190813e-05 + m * (1.4412674 + m * (-0.70570416 + m * (0.40872174 + m * (-0.18772264 + m * 0.04342891))))
        return exponent + p
    }

    /// 2^x for x in -126...127, within 2.3e-7 relative: integer part into the exponent bits, a
    /// degree-5 Chebyshev fit of 2^f on the fraction.
    @inline(__always)
    static func exp2(_ x: Float) -> Float {
        let clamped = min(max(x, -126), 127)
        var whole = Float(Int32(clamped))
        if whole > clamped { whole -= 1 }
        let f = clamped - whole
        let p = 0.99999977 + f * (0.69315678 + f * (0.24013169 + f * (0.05587656 + f * (0.00894058 + f * 0.00189438))))
        return Float(bitPattern: UInt32(Int32(whole) + 127) << 23) * p
    }

    /// `log2` on eight lanes, with the same steps in the same order: the same result lane by lane.
    @inline(__always)
    static func log2(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        // The biased exponent as a float without a conversion instruction: 2^23 + e, minus 2^23.
        let biased = unsafeBitCast((bits &>> 23) & 0xFF | 0x4B00_0000, to: SIMD8<Float>.self) - 8_388_608
        let exponent = biased - 127
        let m = unsafeBitCast((bits & 0x7F_FFFF) | 0x3F80_0000, to: SIMD8<Float>.self) - 1
        typealias V = SIMD8<Float>
        var p = V(repeating: -0.18772264) + m * V(repeating: 0.04342891)
        p = V(repeating: 0.40872174) + m * p
        p = V(repeating: -0.70570416) + m * p
        p = V(repeating: 1.4412674) + m * p
        p = V(repeating: 3.190813e-05) + m * p
        return exponent + p
    }

    /// `exp2` on eight lanes, with the same steps in the same order: the same result lane by lane.
    @inline(__always)
    static func exp2(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = VectorOps.clamp(x, SIMD8(repeating: -126), SIMD8(repeating: 127))
        // Floor: adding and removing 1.5 * 2^23 rounds to an integer, then one down where that went up.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        var whole = (clamped + magic) - magic
        whole = whole.replacing(with: whole - 1, where: whole .> clamped)
        let f = clamped - whole
        typealias V = SIMD8<Float>
        var p = V(repeating: 0.00894058) + f * V(repeating: 0.00189438)
        p = V(repeating: 0.05587656) + f * p
        p = V(repeating: 0.24013169) + f * p
        p = V(repeating: 0.69315678) + f * p
        p = V(repeating: 0.99999977) + f * p
        // whole + 1.5 * 2^23 has the integer in its low mantissa bits (0x4B40_0000 + whole).
        let integer = unsafeBitCast(whole + magic, to: SIMD8<UInt32>.self) &- 0x4B40_0000
        return unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self) * p
    }

    static let decibelsPerOctave: Float = 6.0205999 // 20 log10(2)

    @inline(__always)
    static func decibels(_ amplitude: Float) -> Float { decibelsPerOctave * log2(amplitude) }

    @inline(__always)
    static func amplitude(decibels: Float) -> Float { exp2(decibels / decibelsPerOctave) }

    @inline(__always)
    static func decibels(_ amplitude: SIMD8<Float>) -> SIMD8<Float> { decibelsPerOctave * log2(amplitude) }

    @inline(__always)
    static func amplitude(decibels: SIMD8<Float>) -> SIMD8<Float> { exp2(decibels / decibelsPerOctave) }

    /// tanh(x) within 1e-4: Lambert's continued fraction to the seventh order, on |x| <= 4.97 where
    /// it reaches 1, and saturated beyond. Works lane by lane on eight samples.
    @inline(__always)
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let t = VectorOps.clamp(x, SIMD8(repeating: -4.97), SIMD8(repeating: 4.97))
        let t2 = t * t
        let numerator = t * (135_135 + t2 * (17_325 + t2 * (378 + t2)))
        let denominator = 135_135 + t2 * (62_370 + t2 * (3_150 + 28 * t2))
        return VectorOps.clamp(numerator / denominator, SIMD8(repeating: -1), SIMD8(repeating: 1))
    }

    /// cos and sin of eight angles in [-pi, pi], within 3e-7 (two float steps) of the exact values (measured over a million
    /// angles by the tests): the angle less its nearest multiple of pi/2 (pi/2 in two parts, so the
    /// remainder is exact), Taylor series to the 9th and 10th power on [-pi/4, pi/4], then the quadrant.
    @inline(__always)
    static func cosSin(_ angle: SIMD8<Float>) -> (cos: SIMD8<Float>, sin: SIMD8<Float>) {
        typealias V = SIMD8<Float>
        let magic = V(repeating: 12_582_912)
        let q = (angle * V(repeating: 0.63661977)) + magic - magic // nearest integer to angle / (pi/2)
        let r = (angle - q * V(repeating: 1.5707963)) - q * V(repeating: -4.371139e-8)
        let r2 = r * r
        var s = V(repeating: 2.7557319e-6) * r2 + V(repeating: -1.9841270e-4)
        s = s * r2 + V(repeating: 8.3333333e-3)
        s = s * r2 + V(repeating: -1.6666667e-1)
        s = r + r * r2 * s
        var c = V(repeating: -2.7557319e-7) * r2 + V(repeating: 2.4801587e-5)
        c = c * r2 + V(repeating: -1.3888889e-3)
        c = c * r2 + V(repeating: 4.1666668e-2)
        c = c * r2 + V(repeating: -0.5)
        c = V(repeating: 1) + r2 * c
        // The quadrant from q's low bits (q + 1.5 * 2^23 holds q in its low mantissa bits).
        // Bit operations only: integer lane comparisons compile to a loop over the lanes.
        typealias U = SIMD8<UInt32>
        let bits = unsafeBitCast(q + magic, to: U.self)
        let odd = U.zero &- (bits & 1) // all ones in odd quadrants, where cos and sin swap
        let cb = unsafeBitCast(c, to: U.self), sb = unsafeBitCast(s, to: U.self)
        let cosine = ((cb & ~odd) | (sb & odd)) ^ (((bits &+ 1) & 2) &<< 30) // negative in quadrants 1 and 2
        let sine = ((sb & ~odd) | (cb & odd)) ^ ((bits & 2) &<< 30)            // negative in quadrants 2 and 3
        return (unsafeBitCast(cosine, to: V.self), unsafeBitCast(sine, to: V.self))
    }

    /// atan2(y, x) on eight lanes within 3e-7 rad of the exact value (measured by the tests): the ratio of
    /// the smaller to the larger magnitude in [0, 1], reduced below tan(pi/8) around 1, Cephes'
    /// atanf polynomial, then the octant. A lane with y = -0 and x < 0 gives pi (libm: -pi).
    @inline(__always)
    static func atan2(_ y: SIMD8<Float>, _ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        let ax = VectorOps.magnitude(x), ay = VectorOps.magnitude(y)
        let big = VectorOps.maximum(ax, ay), small = VectorOps.minimum(ax, ay)
        let zero = V.zero, one = V(repeating: 1)
        let a = (small / big.replacing(with: one, where: big .== zero))
        let reduce = a .> V(repeating: 0.41421356)
        let t = a.replacing(with: (a - one) / (a + one), where: reduce)
        let z = t * t
        var p = V(repeating: 8.05374449538e-2) * z - V(repeating: 1.38776856032e-1)
        p = p * z + V(repeating: 1.99777106478e-1)
        p = p * z - V(repeating: 3.33329491539e-1)
        var r = p * z * t + t
        r = r + zero.replacing(with: V(repeating: 0.78539816), where: reduce)
        r = r.replacing(with: V(repeating: 1.5707964) - r, where: ay .> ax)
        r = r.replacing(with: V(repeating: 3.1415927) - r, where: x .< zero)
        return r.replacing(with: -r, where: y .< zero)
    }
}
