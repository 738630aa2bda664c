import Spectral

/// Running medians over a frame-major matrix (`rows` x `columns`), with edges extended by
/// repeating the first and last values.
///
/// Eight medians are taken at once, one per SIMD lane, by a sorting network pruned to what the
/// middle element depends on: branch-free min/max steps instead of a sorted window per column,
/// whose data-dependent branches cost several times more on spectrograms.
enum MedianFilter {
    typealias Lanes = SIMD8<Float>

    /// Median over `kernel` (odd) consecutive rows, per column: along time in a spectrogram.
    static func alongRows(_ values: [Float], rows: Int, columns: Int, kernel: Int) -> [Float] {
        let h = kernel / 2
        let network = MedianNetwork.make(kernel)
        var out = [Float](repeating: 0, count: values.count)
        let lanes = UnsafeMutablePointer<Lanes>.allocate(capacity: kernel)
        defer { lanes.deallocate() }
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                let source = v.baseAddress!, target = o.baseAddress!
                for r in 0..<rows {
                    let row = r * columns
                    var c = 0
                    while c + 8 <= columns {
                        for j in 0..<kernel {
                            lanes[j] = UnsafeRawPointer(source + clamp(r - h + j, rows) * columns + c).loadUnaligned(as: Lanes.self)
                        }
                        UnsafeMutableRawPointer(target + row + c).storeBytes(of: network.median(lanes), as: Lanes.self)
                        c += 8
                    }
                    // The last columns: a partial group, lanes beyond the matrix left at zero.
                    if c < columns {
                        for j in 0..<kernel {
                            var group = Lanes()
                            for l in 0..<(columns - c) { group[l] = source[clamp(r - h + j, rows) * columns + c + l] }
                            lanes[j] = group
                        }
                        let medians = network.median(lanes)
                        for l in 0..<(columns - c) { target[row + c + l] = medians[l] }
                    }
                }
            }
        }
        return out
    }

    /// Median over `kernel` (odd) consecutive columns within each row: along frequency.
    static func alongColumns(_ values: [Float], rows: Int, columns: Int, kernel: Int) -> [Float] {
        let h = kernel / 2
        let network = MedianNetwork.make(kernel)
        var out = [Float](repeating: 0, count: values.count)
        // One row with `h` repeated edge values on each side, and room for a last partial group.
        var padded = [Float](repeating: 0, count: columns + 2 * h + 8)
        let lanes = UnsafeMutablePointer<Lanes>.allocate(capacity: kernel)
        defer { lanes.deallocate() }
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                padded.withUnsafeMutableBufferPointer { p in
                    let row0 = p.baseAddress!
                    for r in 0..<rows {
                        let row = r * columns
                        for i in 0..<p.count { row0[i] = v[row + clamp(i - h, columns)] }
                        var c = 0
                        while c < columns {
                            for j in 0..<kernel { lanes[j] = UnsafeRawPointer(row0 + c + j).loadUnaligned(as: Lanes.self) }
                            let medians = network.median(lanes)
                            for l in 0..<min(8, columns - c) { o[row + c + l] = medians[l] }
                            c += 8
                        }
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func clamp(_ i: Int, _ n: Int) -> Int { i < 0 ? 0 : i >= n ? n - 1 : i }
}

/// The compare-exchange steps that bring the median of `count` values to the middle position:
/// Batcher's odd-even merge sort for the next power of two, without the steps that touch the
/// (virtual, infinite) padding, and without the steps the middle position does not depend on.
struct MedianNetwork {
    let count: Int
    let steps: [(Int, Int)]

    static func make(_ count: Int) -> MedianNetwork {
        var n = 1
        while n < count { n *= 2 }
        var all: [(Int, Int)] = []
        var p = 1
        while p < n {
            var k = p
            while k >= 1 {
                var j = k % p
                while j + k < n {
                    for i in 0..<k where i + j + k < n && (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        all.append((i + j, i + j + k))
                    }
                    j += 2 * k
                }
                k /= 2
            }
            p *= 2
        }
        // Padding holds +infinity and never moves below `count`: its steps change nothing.
        let real = all.filter { $0.1 < count }
        // Walk back from the middle, keeping the steps whose outputs it depends on.
        var needed = Set([count / 2])
        var kept: [(Int, Int)] = []
        for step in real.reversed() where needed.contains(step.0) || needed.contains(step.1) {
            kept.append(step)
            needed.insert(step.0); needed.insert(step.1)
        }
        return MedianNetwork(count: count, steps: kept.reversed())
    }

    /// The lane-wise median of `lanes[0..<count]`, which it reorders.
    @inline(__always)
    func median(_ lanes: UnsafeMutablePointer<SIMD8<Float>>) -> SIMD8<Float> {
        for (a, b) in steps {
            let x = lanes[a], y = lanes[b]
            lanes[a] = VectorOps.minimum(x, y)
            lanes[b] = VectorOps.maximum(x, y)
        }
        return lanes[count / 2]
    }
}
