/// The error-correcting code around the 128 mark bits: a rate-1/3 convolutional code of constraint
/// length 7 (generators 133, 171, 165 octal, as in LTE), terminated with 6 zero bits, decoded by a
/// soft-decision Viterbi decoder. 128 bits become 402 coded bits.
enum ConvolutionalCode {
    static let generators: [Int] = [0o133, 0o171, 0o165]
    static let memory = 6
    static let stateCount = 1 << memory
    static var rate: Int { generators.count }

    static func codedCount(bits: Int) -> Int { (bits + memory) * rate }

    /// Output bits for input `bit` entering a register whose last six inputs are `state`.
    @inline(__always)
    static func outputs(state: Int, bit: Int) -> (Int, Int, Int) {
        let register = bit << memory | state
        return ((register & generators[0]).nonzeroBitCount & 1,
                (register & generators[1]).nonzeroBitCount & 1,
                (register & generators[2]).nonzeroBitCount & 1)
    }

    static func encode(_ bits: [UInt8]) -> [UInt8] {
        var state = 0
        var out: [UInt8] = []
        out.reserveCapacity(codedCount(bits: bits.count))
        for bit in bits.map(Int.init) + [Int](repeating: 0, count: memory) {
            let (a, b, c) = outputs(state: state, bit: bit)
            out += [UInt8(a), UInt8(b), UInt8(c)]
            state = (bit << memory | state) >> 1
        }
        return out
    }

    /// Branch outputs as ±1, indexed by (state, bit) then output.
    static let branchSigns: [Float] = (0..<(stateCount * 2)).flatMap { index -> [Float] in
        let (o0, o1, o2) = outputs(state: index / 2, bit: index % 2)
        return [o0 == 1 ? 1 : -1, o1 == 1 ? 1 : -1, o2 == 1 ? 1 : -1]
    }

    /// Maximum-likelihood input bits for soft values (positive: coded bit 1 more likely; the
    /// magnitude is the confidence). `soft.count` must be `codedCount(bits: bitCount)`.
    static func decode(_ soft: [Float], bitCount: Int) -> [UInt8] {
        precondition(soft.count == codedCount(bits: bitCount))
        let steps = bitCount + memory
        let states = stateCount
        // Unreached states hold a large negative metric rather than -infinity: no branch per state.
        var metric = [Float](repeating: -1e30, count: states)
        metric[0] = 0
        var next = [Float](repeating: 0, count: states)
        // decisions[t * states + s]: the previous state on the survivor path into s at step t.
        var decisions = [UInt8](repeating: 0, count: steps * states)
        Self.branchSigns.withUnsafeBufferPointer { branch in
            decisions.withUnsafeMutableBufferPointer { decisions in
                for t in 0..<steps {
                    let r0 = soft[3 * t], r1 = soft[3 * t + 1], r2 = soft[3 * t + 2]
                    let forced = t >= bitCount // the tail forces zeros
                    // State n is reached from s = (n << 1) & mask | x with input bit n >> (memory - 1).
                    for n in 0..<states {
                        let b = n >> (memory - 1)
                        if forced && b == 1 { next[n] = -1e30; continue }
                        let s0 = (n << 1) & (states - 1), s1 = s0 | 1
                        let o0 = (s0 * 2 + b) * 3, o1 = (s1 * 2 + b) * 3
                        let m0 = metric[s0] + r0 * branch[o0] + r1 * branch[o0 + 1] + r2 * branch[o0 + 2]
                        let m1 = metric[s1] + r0 * branch[o1] + r1 * branch[o1 + 1] + r2 * branch[o1 + 2]
                        if m1 > m0 {
                            next[n] = m1
                            decisions[t * states + n] = UInt8(s1)
                        } else {
                            next[n] = m0
                            decisions[t * states + n] = UInt8(s0)
                        }
                    }
                    swap(&metric, &next)
                }
            }
        }
        var bits = [UInt8](repeating: 0, count: steps)
        var state = 0
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let previous = Int(decisions[t * states + state])
            // The input bit is the top bit of the register, which is the top bit of the new state.
            bits[t] = UInt8((state >> (memory - 1)) & 1)
            state = previous
        }
        return Array(bits.prefix(bitCount))
    }
}

/// SplitMix64: a small deterministic generator for the public embedding layout (not for secrets).
struct LayoutRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}

extension ConvolutionalCode {
    /// The `listSize` most likely input sequences, best first (a parallel list Viterbi decoder: every
    /// state keeps its `listSize` best survivors). The first is `decode`'s answer. Used where a
    /// check outside the code (the mark's 64 authentication bits) can tell the right word among
    /// near-misses: a single wrong bit fails that check.
    static func decodeList(_ soft: [Float], bitCount: Int, listSize: Int) -> [[UInt8]] {
        precondition(soft.count == codedCount(bits: bitCount) && listSize >= 1)
        let steps = bitCount + memory, states = stateCount, l = listSize
        var metric = [Float](repeating: -.infinity, count: states * l)
        metric[0] = 0
        var next = [Float](repeating: -.infinity, count: states * l)
        // Per step, state and rank: the predecessor's state and rank.
        var fromState = [UInt8](repeating: 0, count: steps * states * l)
        var fromRank = [UInt8](repeating: 0, count: steps * states * l)
        var branch = [Float](repeating: 0, count: states * 2)
        for t in 0..<steps {
            let r0 = soft[3 * t], r1 = soft[3 * t + 1], r2 = soft[3 * t + 2]
            for i in 0..<(states * 2) {
                branch[i] = r0 * branchSigns[3 * i] + r1 * branchSigns[3 * i + 1] + r2 * branchSigns[3 * i + 2]
            }
            for i in 0..<next.count { next[i] = -.infinity }
            for n in 0..<states {
                let b = n >> (memory - 1)
                if t >= bitCount && b == 1 { continue } // the tail forces zeros
                // Each predecessor's list is sorted and one branch adds a constant to it, so the
                // best l of the two is a merge.
                let s0 = (n << 1) & (states - 1), s1 = s0 | 1
                let add0 = branch[s0 * 2 + b], add1 = branch[s1 * 2 + b]
                var r0 = 0, r1 = 0
                for rank in 0..<l {
                    let m0 = r0 < l ? metric[s0 * l + r0] + add0 : -.infinity
                    let m1 = r1 < l ? metric[s1 * l + r1] + add1 : -.infinity
                    guard m0 > -.infinity || m1 > -.infinity else { break }
                    let index = (t * states + n) * l + rank
                    if m1 > m0 {
                        next[n * l + rank] = m1
                        fromState[index] = UInt8(s1)
                        fromRank[index] = UInt8(r1)
                        r1 += 1
                    } else {
                        next[n * l + rank] = m0
                        fromState[index] = UInt8(s0)
                        fromRank[index] = UInt8(r0)
                        r0 += 1
                    }
                }
            }
            swap(&metric, &next)
        }
        var words: [[UInt8]] = []
        for rank in 0..<l where metric[rank] > -.infinity {
            var bits = [UInt8](repeating: 0, count: steps)
            var state = 0, r = rank
            for t in stride(from: steps - 1, through: 0, by: -1) {
                bits[t] = UInt8((state >> (memory - 1)) & 1)
                let index = (t * states + state) * l + r
                state = Int(fromState[index])
                r = Int(fromRank[index])
            }
            words.append(Array(bits.prefix(bitCount)))
        }
        return words
    }
}
