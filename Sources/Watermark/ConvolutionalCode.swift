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

    /// Maximum-likelihood input bits for soft values (positive: coded bit 1 more likely; the
    /// magnitude is the confidence). `soft.count` must be `codedCount(bits: bitCount)`.
    static func decode(_ soft: [Float], bitCount: Int) -> [UInt8] {
        precondition(soft.count == codedCount(bits: bitCount))
        let steps = bitCount + memory
        let states = stateCount
        var metric = [Float](repeating: -.infinity, count: states)
        metric[0] = 0
        var next = [Float](repeating: 0, count: states)
        // decisions[t * states + s]: the previous state on the survivor path into s at step t.
        var decisions = [UInt8](repeating: 0, count: steps * states)
        // Branch outputs as ±1, indexed by (state, bit).
        var branch = [Float](repeating: 0, count: states * 2 * 3)
        for s in 0..<states {
            for b in 0..<2 {
                let (o0, o1, o2) = outputs(state: s, bit: b)
                branch[(s * 2 + b) * 3] = o0 == 1 ? 1 : -1
                branch[(s * 2 + b) * 3 + 1] = o1 == 1 ? 1 : -1
                branch[(s * 2 + b) * 3 + 2] = o2 == 1 ? 1 : -1
            }
        }
        for t in 0..<steps {
            let r0 = soft[3 * t], r1 = soft[3 * t + 1], r2 = soft[3 * t + 2]
            for i in 0..<states { next[i] = -.infinity }
            let inputBits = t < bitCount ? 2 : 1 // the tail forces zeros
            for s in 0..<states where metric[s] > -.infinity {
                for b in 0..<inputBits {
                    let o = (s * 2 + b) * 3
                    let m = metric[s] + r0 * branch[o] + r1 * branch[o + 1] + r2 * branch[o + 2]
                    let n = (b << memory | s) >> 1
                    if m > next[n] {
                        next[n] = m
                        decisions[t * states + n] = UInt8(s)
                    }
                }
            }
            swap(&metric, &next)
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
        var candidates = [(Float, Int, Int)]()
        candidates.reserveCapacity(2 * l)
        for t in 0..<steps {
            let r0 = soft[3 * t], r1 = soft[3 * t + 1], r2 = soft[3 * t + 2]
            for s in 0..<states {
                for b in 0..<2 {
                    let (o0, o1, o2) = outputs(state: s, bit: b)
                    branch[s * 2 + b] = (o0 == 1 ? r0 : -r0) + (o1 == 1 ? r1 : -r1) + (o2 == 1 ? r2 : -r2)
                }
            }
            for i in 0..<next.count { next[i] = -.infinity }
            for n in 0..<states {
                let b = n >> (memory - 1)
                if t >= bitCount && b == 1 { continue } // the tail forces zeros
                candidates.removeAll(keepingCapacity: true)
                for x in 0..<2 {
                    let s = ((n << 1) & (states - 1)) | x
                    for r in 0..<l where metric[s * l + r] > -.infinity {
                        candidates.append((metric[s * l + r] + branch[s * 2 + b], s, r))
                    }
                }
                candidates.sort { $0.0 > $1.0 }
                for (rank, c) in candidates.prefix(l).enumerated() {
                    next[n * l + rank] = c.0
                    fromState[(t * states + n) * l + rank] = UInt8(c.1)
                    fromRank[(t * states + n) * l + rank] = UInt8(c.2)
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
