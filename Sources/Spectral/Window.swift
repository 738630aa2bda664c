import Foundation

public enum Window {
    /// Periodic Hann window (the variant that sums to a constant under 50 % and 75 % overlap).
    public static func hann(_ n: Int) -> [Float] {
        (0..<n).map { i in Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))) }
    }
}
