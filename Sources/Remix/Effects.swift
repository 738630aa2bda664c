import Audio
import Foundation
import Spectral

/// Sample-by-sample effects that need no spectrum: edits in time, fades, colour and noise.
enum Effects {
    static func gain(_ audio: inout AudioBuffer, decibels: Double) {
        let g = Float(pow(10, decibels / 20))
        forEachSample(&audio) { $0 * g }
    }

    /// Applies `f` to every sample, eight at a time.
    static func forEachSample(_ audio: inout AudioBuffer, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { VectorOps.transform($0, f) }
        }
    }

    static func trim(_ audio: inout AudioBuffer, start: Int, end: Int) {
        // In place: no second copy of a long recording.
        for c in audio.channels.indices {
            audio.channels[c].removeSubrange(end...)
            audio.channels[c].removeSubrange(..<start)
        }
    }

    /// Gain curve value at t in [0, 1] rising from silence to unity.
    static func fadeShape(_ t: Double, _ curve: FadeCurve) -> Float {
        switch curve {
        case .linear: Float(t)
        case .sine: Float(sin(t * Double.pi / 2))
        case .cubic: Float(t * t * t)
        }
    }

    static func fade(_ audio: inout AudioBuffer, frames: Int, curve: FadeCurve, out: Bool) {
        let n = audio.frameCount
        let length = min(frames, n)
        guard length > 0 else { return }
        let shape = (0..<length).map { fadeShape(Double($0) / Double(length), curve) }
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                for i in 0..<length {
                    if out { x[n - 1 - i] *= shape[i] } else { x[i] *= shape[i] }
                }
                // The last sample of a fade-out is silent, not one step above it.
                if out { x[n - 1] = 0 }
            }
        }
    }

    /// tanh waveshaper normalised so full scale stays full scale; `mix` blends with the dry signal.
    static func saturate(_ audio: inout AudioBuffer, driveDecibels: Double, mix: Double) {
        let drive = Float(pow(10, driveDecibels / 20))
        let norm = 1 / tanh(drive)
        let wet = Float(mix), dry = 1 - Float(mix)
        forEachSample(&audio) { x in dry * x + wet * norm * FastMath.tanh(drive * x) }
    }

    /// Quantises to `bits` (no dither: the grit is the point) and holds each sample for the period
    /// of `sampleRate` (no anti-alias filter: the aliasing is the point).
    static func bitcrush(_ audio: inout AudioBuffer, bits: Int?, sampleRate: Double?) {
        if let target = sampleRate, target < Double(audio.sampleRate) {
            let step = target / Double(audio.sampleRate)
            for c in audio.channels.indices {
                audio.channels[c].withUnsafeMutableBufferPointer { x in
                    var phase = 1.0, held: Float = 0
                    for i in x.indices {
                        phase += step
                        if phase >= 1 { phase -= 1; held = x[i] }
                        x[i] = held
                    }
                }
            }
        }
        if let bits {
            let levels = Float(1 << (bits - 1))
            // Round to the nearest step by adding and removing 1.5 * 2^23, which leaves no fraction
            // bits; values of 2^22 steps or more are kept (a Float there is off a step by half at most).
            let magic = SIMD8<Float>(repeating: 12_582_912), whole = SIMD8<Float>(repeating: 4_194_304)
            forEachSample(&audio) { x in
                let steps = x * levels
                return ((steps + magic) - magic).replacing(with: steps, where: VectorOps.magnitude(steps) .>= whole) / levels
            }
        }
    }

    /// Reads `x` at fractional position `p` (linear interpolation, zero outside).
    @inline(__always)
    static func read(_ x: UnsafeBufferPointer<Float>, at p: Double) -> Float {
        // Floor by conversion: `rounded(.down)` is a libm call on baseline x86-64, once per read.
        var i = Int(p)
        if Double(i) > p { i -= 1 }
        if i < 0 || i + 1 >= x.count { return i >= 0 && i < x.count ? x[i] : 0 }
        let f = Float(p - Double(i))
        return x[i] + f * (x[i + 1] - x[i])
    }

    /// Voices of the signal delayed by `delay` +/- `depth`, each on a sine LFO with its own phase;
    /// the right channel's LFOs are a quarter turn ahead for width.
    static func chorus(_ audio: inout AudioBuffer, _ s: ChorusSettings) {
        let rate = Double(audio.sampleRate)
        let delay = s.delayMilliseconds * 0.001 * rate, depth = s.depthMilliseconds * 0.001 * rate
        let w = 2 * Double.pi * s.rate / rate
        let wet = Float(s.mix) / Float(s.voices), dry = 1 - Float(s.mix) * 0.5
        let n = audio.frameCount, block = 4096
        let sum = UnsafeMutableBufferPointer<Float>.allocate(capacity: block)
        defer { sum.deallocate() }
        // Reads reach at most delay + depth behind.
        // Every (channel, voice) LFO, four to a bank; their read positions block by block.
        var lanes: [(step: Double, phase: Double)] = []
        for c in audio.channels.indices {
            let offset: Double = c % 2 == 1 ? Double.pi / 2 : 0
            for v in 0..<s.voices {
                let phase: Double = offset + 2 * Double.pi * Double(v) / Double(s.voices)
                lanes.append((step: w, phase: phase))
            }
        }
        var banks = stride(from: 0, to: lanes.count, by: 4).map { OscillatorBank(Array(lanes[$0..<min($0 + 4, lanes.count)])) }
        let positions = UnsafeMutableBufferPointer<Double>.allocate(capacity: lanes.count * block)
        defer { positions.deallocate() }
        let helds = audio.channels.map { _ in HeldSignal(frames: n, margin: Int((delay + depth).rounded(.up)) + 2, block: block) }
        for start in stride(from: 0, to: n, by: block) {
            let count = min(block, n - start)
            for b in banks.indices {
                var bank = banks[b]
                let used = min(4, lanes.count - 4 * b)
                for j in 0..<count {
                    let lfo = bank.next()
                    let t = Double(start + j) - delay
                    for l in 0..<used {
                        let value: Double = lfo[l]
                        positions[(4 * b + l) * block + j] = t - depth * value
                    }
                }
                banks[b] = bank
            }
            for c in audio.channels.indices {
                let held = helds[c]
                audio.channels[c].withUnsafeMutableBufferPointer { x in
                    // In place: the reads come from the held original. Voices are summed in order
                    // (the same sums as voice by voice within each sample).
                    held.load(UnsafeBufferPointer(x), start: start, count: count)
                    for j in 0..<count { sum[j] = 0 }
                    for v in 0..<s.voices {
                        held.accumulate(at: positions.baseAddress! + (c * s.voices + v) * block, count: count, into: sum.baseAddress!)
                    }
                    for j in 0..<count { x[start + j] = dry * held.original(start + j) + wet * sum[j] }
                }
            }
        }
    }

    /// Tape speed wobble: a delay line whose length moves so that the playback speed deviates by
    /// the given peak percentages (speed = 1 - d'(t), so a sine delay of amplitude
    /// percent / (100 * 2 pi f) seconds gives that peak deviation).
    static func wowFlutter(_ audio: inout AudioBuffer, _ s: WowFlutterSettings) {
        let rate = Double(audio.sampleRate)
        let wowAmplitude = s.wowPercent / 100 / (2 * Double.pi * s.wowRate) * rate
        let flutterAmplitude = s.flutterPercent / 100 / (2 * Double.pi * s.flutterRate) * rate
        let ww = 2 * Double.pi * s.wowRate / rate, wf = 2 * Double.pi * s.flutterRate / rate
        // Every channel moves with the same tape: one delay curve, computed once per block.
        var lfo = OscillatorBank([(step: ww, phase: 0), (step: wf, phase: 0)]) // wow, flutter
        let n = audio.frameCount, block = 4096
        let position = UnsafeMutableBufferPointer<Double>.allocate(capacity: block)
        defer { position.deallocate() }
        // In place: each channel's original samples around the block are held for the reads.
        let margin = Int((abs(wowAmplitude) + abs(flutterAmplitude)).rounded(.up)) + 2
        let held = audio.channels.map { _ in HeldSignal(frames: n, margin: margin, block: block) }
        for start in stride(from: 0, to: n, by: block) {
            let count = min(block, n - start)
            for j in 0..<count {
                // Both sines start at 0, so the output starts aligned with the input.
                let sines = lfo.next()
                let d = wowAmplitude * sines[0] + flutterAmplitude * sines[1]
                position[j] = Double(start + j) - d
            }
            for c in audio.channels.indices {
                audio.channels[c].withUnsafeMutableBufferPointer { x in
                    held[c].load(UnsafeBufferPointer(x), start: start, count: count)
                    held[c].read(at: position.baseAddress!, count: count, into: x.baseAddress! + start)
                }
            }
        }
    }

    /// Surface noise: hiss (white noise through a gentle low-pass) and crackle (sparse clicks of
    /// random size and sign, each a few samples of decaying impulse). Same clicks on every channel,
    /// independent hiss. Reproducible from the seed.
    static func vinyl(_ audio: inout AudioBuffer, _ s: VinylSettings) {
        let rate = Double(audio.sampleRate)
        var rng = SplitMix64(seed: UInt64(s.seed))
        let n = audio.frameCount
        // Clicks: exponential gaps at the given average rate.
        var clicks: [(at: Int, amplitude: Float, decay: Float)] = []
        if s.cracklePerSecond > 0 {
            let peak = pow(10, s.crackleDecibels / 20)
            var t = 0.0
            while true {
                t += -log(1 - rng.nextUnit()) / s.cracklePerSecond * rate
                if t >= Double(n) { break }
                let size = pow(rng.nextUnit(), 3) // most clicks small, a few loud
                let sign: Double = rng.nextUnit() < 0.5 ? -1 : 1
                clicks.append((Int(t), Float(sign * size * peak), Float(exp(-1 / (0.0002 * rate * (0.5 + rng.nextUnit()))))))
            }
        }
        let hiss = Float(pow(10, s.hissDecibels / 20) * 3.0.squareRoot()) // uniform noise: RMS = a / sqrt(3)
        let smoothing = Float(exp(-2 * Double.pi * 6000 / rate))
        // One-pole low-pass at 6 kHz, its white-noise power loss (1-a)/(1+a) compensated.
        let compensation = ((1 + smoothing) / (1 - smoothing)).squareRoot()
        var noise = audio.channels.indices.map { c in SplitMix64(seed: UInt64(s.seed) &* 0x9E37_79B9 &+ UInt64(c + 1)) }
        if hiss > 0 {
            // Channels in pairs within one loop: the two recursions overlap instead of each waiting
            // on its own (the same values as channel by channel).
            for first in stride(from: 0, to: audio.channelCount, by: 2) {
                guard first + 1 < audio.channelCount else {
                    audio.channels[first].withUnsafeMutableBufferPointer { x in
                        var state: Float = 0
                        for i in x.indices {
                            let white = Float(noise[first].nextUnit() * 2 - 1) * hiss
                            state = white + smoothing * (state - white)
                            x[i] += state * compensation
                        }
                    }
                    break
                }
                var left = noise[first], right = noise[first + 1]
                var l = audio.channels[first]; audio.channels[first] = []
                var r = audio.channels[first + 1]; audio.channels[first + 1] = []
                l.withUnsafeMutableBufferPointer { l in
                    r.withUnsafeMutableBufferPointer { r in
                        var stateL: Float = 0, stateR: Float = 0
                        for i in 0..<n {
                            let whiteL = Float(left.nextUnit() * 2 - 1) * hiss, whiteR = Float(right.nextUnit() * 2 - 1) * hiss
                            stateL = whiteL + smoothing * (stateL - whiteL)
                            stateR = whiteR + smoothing * (stateR - whiteR)
                            l[i] += stateL * compensation
                            r[i] += stateR * compensation
                        }
                    }
                }
                audio.channels[first] = l; audio.channels[first + 1] = r
                noise[first] = left; noise[first + 1] = right
            }
        }
        for c in audio.channels.indices {
            audio.channels[c].withUnsafeMutableBufferPointer { x in
                for click in clicks {
                    var a = click.amplitude
                    var i = click.at
                    while i < x.count, abs(a) > 1e-5 {
                        x[i] += a
                        a *= -click.decay // alternating sign: a short high-frequency pop
                        i += 1
                    }
                }
            }
        }
    }

    static func reverse(_ audio: inout AudioBuffer) {
        for c in audio.channels.indices { audio.channels[c].reverse() }
    }

    /// Repeats frames [start, end) `count` times in place. Each seam overlaps the end of one pass
    /// with the start of the next over `crossfade` frames, equal-power, so there is no click.
    static func loop(_ audio: inout AudioBuffer, start: Int, end: Int, count: Int, crossfade: Int) {
        let length = end - start
        let fadeLength = min(crossfade, length / 2)
        guard count > 1, length > 0 else { return }
        let fadeIn = (0..<fadeLength).map { fadeShape(Double($0 + 1) / Double(fadeLength + 1), .sine) }
        let fadeOut = (0..<fadeLength).map { fadeShape(1 - Double($0 + 1) / Double(fadeLength + 1), .sine) }
        for c in audio.channels.indices {
            let x = audio.channels[c]
            let section = Array(x[start..<end])
            var out = Array(x[0..<end])
            out.reserveCapacity(x.count + (count - 1) * (length - fadeLength))
            for _ in 1..<count {
                // Overlap: the tail already in `out` fades out while the head of the next pass fades in.
                let seam = out.count - fadeLength
                for i in 0..<fadeLength { out[seam + i] = out[seam + i] * fadeOut[i] + section[i] * fadeIn[i] }
                out.append(contentsOf: section[fadeLength...])
            }
            out.append(contentsOf: x[end...])
            audio.channels[c] = out
        }
    }
}

/// A sine by rotating a unit phasor (one complex multiply per sample instead of a `sin` call),
/// renormalised now and then so rounding does not change its amplitude.
struct Oscillator {
    private var re: Double, im: Double
    private let c: Double, s: Double
    private var count = 0

    init(step: Double, phase: Double) {
        re = cos(phase); im = sin(phase)
        c = cos(step); s = sin(step)
    }

    /// sin(phase + n * step) for n = 0, 1, 2, ...
    @inline(__always)
    mutating func next() -> Double {
        let value = im
        (re, im) = (re * c - im * s, re * s + im * c)
        count += 1
        if count & 4095 == 0 {
            let norm = 1 / (re * re + im * im).squareRoot()
            re *= norm; im *= norm
        }
        return value
    }
}

/// Up to four `Oscillator`s advanced together in vector lanes, each lane doing exactly what an
/// `Oscillator` does (the same values): one rotation is a chain of dependent multiplies and adds,
/// so four independent ones cost about what one does.
struct OscillatorBank {
    private var re: SIMD4<Double>, im: SIMD4<Double>
    private let c: SIMD4<Double>, s: SIMD4<Double>
    private var count = 0

    /// One lane per (step, phase); unused lanes stay at 0.
    init(_ lanes: [(step: Double, phase: Double)]) {
        precondition(lanes.count <= 4)
        var re = SIMD4<Double>.zero, im = re, c = re, s = re
        for (l, lane) in lanes.enumerated() {
            re[l] = cos(lane.phase); im[l] = sin(lane.phase)
            c[l] = cos(lane.step); s[l] = sin(lane.step)
        }
        (self.re, self.im, self.c, self.s) = (re, im, c, s)
    }

    @inline(__always)
    mutating func next() -> SIMD4<Double> {
        let value = im
        (re, im) = (re * c - im * s, re * s + im * c)
        count += 1
        if count & 4095 == 0 {
            let norm = 1 / (re * re + im * im).squareRoot()
            re *= norm; im *= norm
        }
        return value
    }
}

/// A small, fast, reproducible generator (SplitMix64), so noise is the same on every machine.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The original samples of a channel that an effect rewrites in place block by block, when each
/// output frame reads the input up to `margin` frames before or after it: the block itself, the
/// margin after it (not yet rewritten) and the margin before it (kept from the last block). Spares
/// a copy of the whole channel. Blocks must be loaded in order from 0 after `reset`.
final class HeldSignal {
    let frames: Int, margin: Int
    private let samples: UnsafeMutableBufferPointer<Float>
    private var base = 0, previousCount = 0

    init(frames: Int, margin: Int, block: Int) {
        self.frames = frames
        self.margin = margin
        samples = .allocate(capacity: 2 * margin + block + 2)
        samples.initialize(repeating: 0)
    }

    deinit { samples.deallocate() }

    func reset() { base = 0; previousCount = 0 }

    /// Holds frames [start - margin, start + count + margin + 2) of the original, `x` still being
    /// the original from `start` on.
    func load(_ x: UnsafeBufferPointer<Float>, start: Int, count: Int) {
        if start > 0 {
            // The margin before this block is the end of the last block's hold.
            memmove(samples.baseAddress!, samples.baseAddress! + previousCount, margin * MemoryLayout<Float>.stride)
        }
        let available = min(count + margin + 2, frames - start)
        (samples.baseAddress! + margin).update(from: x.baseAddress! + start, count: available)
        base = start - margin
        previousCount = count
    }

    @inline(__always)
    func original(_ i: Int) -> Float { samples[i - base] }

    /// out[j] = read(at: positions[j]) for j in 0..<count (`out` may be the channel being rewritten).
    func read(at positions: UnsafePointer<Double>, count: Int, into out: UnsafeMutablePointer<Float>) {
        for j in 0..<count { out[j] = 0 }
        accumulate(at: positions, count: count, into: out)
    }

    /// sum[j] += read(at: positions[j]) for j in 0..<count, with the state in locals (through
    /// the object, every read would reload it).
    func accumulate(at positions: UnsafePointer<Double>, count: Int, into sum: UnsafeMutablePointer<Float>) {
        let samples = self.samples.baseAddress!, base = self.base, frames = self.frames
        for j in 0..<count {
            let p = positions[j]
            var i = Int(p)
            if Double(i) > p { i -= 1 }
            var value: Float
            if i < 0 || i + 1 >= frames {
                value = i >= 0 && i < frames ? samples[i - base] : 0
            } else {
                let f = Float(p - Double(i))
                let a = samples[i - base]
                value = a + f * (samples[i + 1 - base] - a)
            }
            sum[j] += value
        }
    }

    /// The original at fractional position `p` as `Effects.read` reads it: linear interpolation,
    /// the last frame as is, zero outside.
    @inline(__always)
    func read(at p: Double) -> Float {
        var i = Int(p)
        if Double(i) > p { i -= 1 }
        if i < 0 || i + 1 >= frames { return i >= 0 && i < frames ? samples[i - base] : 0 }
        let f = Float(p - Double(i))
        let a = samples[i - base]
        return a + f * (samples[i + 1 - base] - a)
    }
}
