/// Running medians over a frame-major matrix (`rows` x `columns`), with edges extended by
/// repeating the first and last values. Each window is kept sorted; sliding replaces the value that
/// leaves with the one that enters and moves it into place, O(kernel) per output.
enum MedianFilter {
    /// Median over `kernel` (odd) consecutive rows, per column: along time in a spectrogram.
    static func alongRows(_ values: [Float], rows: Int, columns: Int, kernel: Int) -> [Float] {
        let h = kernel / 2
        var out = [Float](repeating: 0, count: values.count)
        var windows = [Float](repeating: 0, count: columns * kernel)
        values.withUnsafeBufferPointer { v in
            windows.withUnsafeMutableBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    for c in 0..<columns {
                        let base = w.baseAddress! + c * kernel
                        for j in 0..<kernel { base[j] = v[clamp(j - h, rows) * columns + c] }
                        sort(base, kernel)
                    }
                    for r in 0..<rows {
                        let leaving = clamp(r - h, rows) * columns, entering = clamp(r + h + 1, rows) * columns
                        let row = r * columns
                        for c in 0..<columns {
                            let base = w.baseAddress! + c * kernel
                            o[row + c] = base[h]
                            replace(base, kernel, old: v[leaving + c], new: v[entering + c])
                        }
                    }
                }
            }
        }
        return out
    }

    /// Median over `kernel` (odd) consecutive columns within each row: along frequency.
    static func alongColumns(_ values: [Float], rows: Int, columns: Int, kernel: Int) -> [Float] {
        let h = kernel / 2
        var out = [Float](repeating: 0, count: values.count)
        var window = [Float](repeating: 0, count: kernel)
        values.withUnsafeBufferPointer { v in
            window.withUnsafeMutableBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    let base = w.baseAddress!
                    for r in 0..<rows {
                        let row = r * columns
                        for j in 0..<kernel { base[j] = v[row + clamp(j - h, columns)] }
                        sort(base, kernel)
                        for c in 0..<columns {
                            o[row + c] = base[h]
                            replace(base, kernel, old: v[row + clamp(c - h, columns)], new: v[row + clamp(c + h + 1, columns)])
                        }
                    }
                }
            }
        }
        return out
    }

    /// Median of the values at `indices` (up to 16 of them), by insertion sort in a scratch buffer.
    @inline(__always)
    static func median(_ scratch: UnsafeMutablePointer<Float>, _ count: Int) -> Float {
        sort(scratch, count)
        return count % 2 == 1 ? scratch[count / 2] : 0.5 * (scratch[count / 2 - 1] + scratch[count / 2])
    }

    @inline(__always)
    static func clamp(_ i: Int, _ n: Int) -> Int { i < 0 ? 0 : i >= n ? n - 1 : i }

    @inline(__always)
    static func sort(_ a: UnsafeMutablePointer<Float>, _ n: Int) {
        if n < 2 { return }
        for i in 1..<n {
            let x = a[i]
            var j = i - 1
            while j >= 0 && a[j] > x { a[j + 1] = a[j]; j -= 1 }
            a[j + 1] = x
        }
    }

    /// Replaces one occurrence of `old` in the sorted window with `new` and restores the order.
    @inline(__always)
    static func replace(_ a: UnsafeMutablePointer<Float>, _ n: Int, old: Float, new: Float) {
        var i = 0
        while i < n - 1 && a[i] != old { i += 1 }
        if new > old {
            while i + 1 < n && a[i + 1] < new { a[i] = a[i + 1]; i += 1 }
        } else {
            while i > 0 && a[i - 1] > new { a[i] = a[i - 1]; i -= 1 }
        }
        a[i] = new
    }
}
