import Audio
import Foundation

/// Everything the generator is told about a gap it must fill. These are coarse and
/// non-protectable: a length, a pulse, a key, a loudness per second, a style name and a seed. No
/// samples, spectrum, melody or fine structure of the recording that was taken out.
public struct GapDescriptors: Sendable, Equatable, Codable {
    public var frameCount: Int
    public var sampleRate: Int
    public var channels: Int
    /// The beat grid with times relative to the gap's first frame.
    public var grid: BeatGrid
    public var key: MusicalKey
    /// Loudness (LUFS, ungated, K-weighted) of each `contourBlockSeconds` of the gap.
    public var loudness: [Double]
    public var style: String
    public var seed: UInt64

    public static let contourBlockSeconds = 1.0

    public init(frameCount: Int, sampleRate: Int, channels: Int, grid: BeatGrid, key: MusicalKey,
                loudness: [Double], style: String, seed: UInt64) {
        self.frameCount = frameCount
        self.sampleRate = sampleRate
        self.channels = channels
        self.grid = grid
        self.key = key
        self.loudness = loudness
        self.style = style
        self.seed = seed
    }

    public var duration: Double { Double(frameCount) / Double(sampleRate) }
}

/// Makes new music for a gap from its descriptors alone: a beat-aligned pattern of drums, bass and
/// a chord pad in the gap's key, voiced for the style, coloured by the style's own effects, then
/// shaped to the gap's loudness contour. The seed picks the chord progression and the pattern's
/// variations; the same descriptors give the same samples on every run.
public struct SegmentGenerator: Sendable {
    /// The style's length-preserving effects (EQ, saturation, reverb ...), applied to the new material.
    public var colour: [EditOperation]

    public init(colour: [EditOperation] = []) {
        self.colour = colour
    }

    /// The operations of a style that colour the sound without moving it in time or setting its level.
    public static func colour(of edit: Edit) -> [EditOperation] {
        edit.operations.filter { operation in
            switch operation {
            case .filter, .compressor, .saturation, .bitcrush, .chorus, .reverb, .gatedReverb, .vinyl: true
            default: false
            }
        }
    }

    public func generate(_ d: GapDescriptors) throws -> AudioBuffer {
        let palette = Palette(style: d.style)
        var random = SplitMix64(seed: d.seed)
        let rate = Double(d.sampleRate), n = d.frameCount
        var drums = [Float](repeating: 0, count: n), bass = drums
        var pad = [[Float]](repeating: drums, count: 2)

        let progression = palette.progression(minor: d.key.minor, random: &random)
        let extraKick = random.nextUnit() < 0.5, openHat = random.nextUnit() < 0.5, bassOctaveJump = random.nextUnit() < 0.5
        let inversion = Int(random.next() % 3)
        let period = d.grid.period, stepSeconds = period / 2
        // Beats from one bar before the gap (the pad sounding at its start) to its end; bars start at beat 0 of the grid.
        let firstBeat = -Int((d.grid.phase / period).rounded(.up)) - 4
        var beat = firstBeat
        while d.grid.phase + Double(beat) * period < d.duration {
            let beatTime = d.grid.phase + Double(beat) * period
            let bar = Int((Double(beat) / 4).rounded(.down)), position = ((beat % 4) + 4) % 4
            let degree = progression[((bar % progression.count) + progression.count) % progression.count]
            let root = (d.key.tonic + Palette.scale(minor: d.key.minor)[degree]) % 12
            let triad = Palette.triad(degree: degree, minor: d.key.minor).map { (root + $0) % 12 }
            if position == 0 {
                let notes = (0..<3).map { i in 55 + ((triad[(i + inversion) % 3] - 7 + 12) % 12) + (i < inversion ? 12 : 0) }
                for note in notes {
                    for c in 0..<2 {
                        Synth.tone(into: &pad[c], at: beatTime, length: 4 * period, frequency: Synth.hertz(note, cents: c == 0 ? -palette.padDetuneCents : palette.padDetuneCents),
                                   wave: palette.pad, attack: palette.padAttack, release: 0.12, level: palette.padLevel, rate: rate)
                    }
                }
            }
            for half in 0..<2 {
                let step = position * 2 + half
                let time = beatTime + (half == 0 ? 0 : stepSeconds * (2 * palette.swing))
                if palette.kick[step] || (extraKick && step == 7 && bar % 2 == 1) {
                    Synth.kick(into: &drums, at: time, level: palette.kickLevel, rate: rate)
                }
                if palette.snare[step] {
                    Synth.noiseHit(into: &drums, at: time, decay: palette.snareDecay, gate: palette.snareGate, tone: 185,
                                   highpass: false, level: palette.snareLevel, random: &random, rate: rate)
                }
                if palette.hat[step] {
                    let open = openHat && half == 1 && position == 3
                    Synth.noiseHit(into: &drums, at: time, decay: open ? 0.12 : 0.025, gate: nil, tone: nil,
                                   highpass: true, level: palette.hatLevel, random: &random, rate: rate)
                }
                if palette.bass[step] {
                    let octave = bassOctaveJump && step == 7 ? 12 : 0
                    Synth.tone(into: &bass, at: time, length: stepSeconds * (palette.bass[(step + 1) % 8] ? 0.9 : 1.8),
                               frequency: Synth.hertz(36 + root + octave, cents: 0), wave: palette.bassWave, attack: 0.005,
                               release: 0.03, level: palette.bassLevel, rate: rate)
                }
            }
            beat += 1
        }
        Synth.lowpass(&pad[0], cutoff: palette.padCutoff, rate: rate)
        Synth.lowpass(&pad[1], cutoff: palette.padCutoff, rate: rate)
        Synth.lowpass(&bass, cutoff: 900, rate: rate)

        var channels: [[Float]]
        if d.channels == 1 {
            channels = [(0..<n).map { drums[$0] + bass[$0] + 0.5 * (pad[0][$0] + pad[1][$0]) }]
        } else {
            channels = (0..<d.channels).map { c in (0..<n).map { drums[$0] + bass[$0] + pad[c % 2][$0] } }
        }
        var audio = AudioBuffer(channels: channels, sampleRate: d.sampleRate)
        if !colour.isEmpty { audio = try Renderer().render(Edit(operations: colour), audio) }
        Self.follow(&audio, loudness: d.loudness)
        return audio
    }

    /// Gains the audio block by block, with 50 ms ramps between blocks, so each block's loudness
    /// lands on the contour. Loud contours push peaks past full scale, so every pass ends in a
    /// limiter, and the next pass makes up what the limiter took (three passes).
    static func follow(_ audio: inout AudioBuffer, loudness target: [Double]) {
        let step = Int((GapDescriptors.contourBlockSeconds * Double(audio.sampleRate)).rounded())
        let ramp = Int(0.05 * Double(audio.sampleRate))
        for _ in 0..<3 {
            let measured = LoudnessMeter.contour(audio, blockSeconds: GapDescriptors.contourBlockSeconds)
            let count = min(measured.count, target.count)
            guard count > 0 else { return }
            // Silent blocks get no boost: their target is met by staying quiet.
            let gains = (0..<count).map { b -> Float in
                Float(pow(10, (measured[b] <= -69 ? 0 : min(24, max(-40, target[b] - measured[b]))) / 20))
            }
            var factors = [Float](repeating: 1, count: audio.frameCount)
            for i in factors.indices {
                let block = min(i / step, count - 1), into = i - block * step
                // The ramp from the previous block's gain is centred on the boundary.
                if block > 0 && into < ramp / 2 {
                    let f = Float(into + ramp / 2) / Float(ramp)
                    factors[i] = gains[block - 1] + f * (gains[block] - gains[block - 1])
                } else if block + 1 < count && step - into <= ramp / 2 {
                    let f = Float(ramp / 2 - (step - into)) / Float(ramp)
                    factors[i] = gains[block] + f * (gains[block + 1] - gains[block])
                } else {
                    factors[i] = gains[block]
                }
            }
            for c in audio.channels.indices {
                for i in factors.indices { audio.channels[c][i] *= factors[i] }
            }
            let peak = audio.channels.map { $0.reduce(0) { max($0, abs($1)) } }.max() ?? 0
            if peak > 0.94 { Dynamics.limit(&audio, ceilingDecibels: -0.5, releaseMilliseconds: 60) }
        }
    }
}

/// How a style's new material is voiced: an eight-step (eighth-note) bar of drums and bass, a pad
/// waveform and levels. Styles without their own voicing get the pop one.
struct Palette {
    var kick: [Bool], snare: [Bool], hat: [Bool], bass: [Bool]
    var swing = 0.5
    var bassWave = Synth.Wave.triangle, pad = Synth.Wave.saw
    var padCutoff = 2500.0, padAttack = 0.02, padDetuneCents = 6.0
    var snareDecay = 0.12, snareGate: Double? = nil
    var kickLevel: Float = 0.9, snareLevel: Float = 0.5, hatLevel: Float = 0.12, bassLevel: Float = 0.35, padLevel: Float = 0.08

    static func steps(_ on: Int...) -> [Bool] { (0..<8).map { on.contains($0) } }

    init(style: String) {
        kick = Self.steps(0, 4, 5); snare = Self.steps(2, 6); hat = Self.steps(0, 1, 2, 3, 4, 5, 6, 7); bass = Self.steps(0, 2, 4, 6)
        switch style {
        case "lofi-hiphop":
            kick = Self.steps(0, 5); swing = 0.6; hatLevel = 0.07; bassWave = .sine; pad = .electricPiano; padCutoff = 3000
        case "synthwave-80s":
            kick = Self.steps(0, 2, 4, 6); bass = Self.steps(0, 1, 2, 3, 4, 5, 6, 7); bassWave = .saw
            snareDecay = 0.3; snareGate = 0.25; padCutoff = 4000; padDetuneCents = 10
        case "vaporwave":
            kick = Self.steps(0, 4); snare = Self.steps(4); hat = Self.steps(); bass = Self.steps(0, 4); bassWave = .sine
            padCutoff = 1500; padAttack = 0.15; kickLevel = 0.6; padLevel = 0.11
        case "nightcore":
            kick = Self.steps(0, 2, 4, 6); hat = Self.steps(1, 3, 5, 7); bass = Self.steps(1, 3, 5, 7); bassWave = .square
            padCutoff = 5000; hatLevel = 0.16
        case "acapella":
            kick = Self.steps(); snare = Self.steps(); hat = Self.steps(); bass = Self.steps(); pad = .sine; padLevel = 0.15
        default:
            break
        }
    }

    /// Scale degrees (0-based) of a four-bar progression the seed picks.
    func progression(minor: Bool, random: inout SplitMix64) -> [Int] {
        // Each starts on the tonic and leads back to it, so the key is heard, not only implied.
        let choices = minor ? [[0, 5, 6, 0], [0, 3, 4, 0], [0, 5, 3, 4], [0, 3, 0, 4]]
                            : [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 0], [0, 3, 0, 4]]
        return choices[Int(random.next() % UInt64(choices.count))]
    }

    static func scale(minor: Bool) -> [Int] { minor ? [0, 2, 3, 5, 7, 8, 10] : [0, 2, 4, 5, 7, 9, 11] }

    /// The triad on a degree, as semitones above its root, built from the scale's own notes.
    static func triad(degree: Int, minor: Bool) -> [Int] {
        let scale = scale(minor: minor)
        return [0, 2, 4].map { offset in
            let index = degree + offset
            return (scale[index % 7] + 12 * (index / 7)) - scale[degree]
        }
    }
}

/// The generator's instruments: band-limited oscillators (polyBLEP), a swept-sine kick and
/// seeded noise hits, each added into a buffer at a time in seconds.
enum Synth {
    enum Wave { case sine, triangle, saw, square, electricPiano }

    static func hertz(_ midi: Int, cents: Double) -> Double { 440 * pow(2, (Double(midi - 69) + cents / 100) / 12) }

    @inline(__always)
    static func blep(_ t: Double, _ dt: Double) -> Double {
        if t < dt { let x = t / dt; return x + x - x * x - 1 }
        if t > 1 - dt { let x = (t - 1) / dt; return x * x + x + x + 1 }
        return 0
    }

    static func tone(into out: inout [Float], at start: Double, length: Double, frequency: Double, wave: Wave,
                     attack: Double, release: Double, level: Float, rate: Double) {
        let first = Int((start * rate).rounded()), total = Int(((length + release) * rate).rounded())
        let held = length * rate
        let dt = frequency / rate
        var phase = 0.0
        out.withUnsafeMutableBufferPointer { y in
            for k in 0..<total {
                let i = first + k
                if i >= y.count { break }
                phase += dt
                if phase >= 1 { phase -= 1 }
                guard i >= 0 else { continue }
                let t = Double(k) / rate
                var envelope = min(1, t / attack)
                if Double(k) > held { envelope *= max(0, 1 - (Double(k) - held) / (release * rate)) }
                let value: Double
                switch wave {
                case .sine: value = sin(2 * .pi * phase)
                case .triangle: value = 1 - 4 * abs(phase - 0.5)
                case .saw: value = 2 * phase - 1 - blep(phase, dt)
                case .square:
                    value = (phase < 0.5 ? 1 : -1) + blep(phase, dt) - blep((phase + 0.5).truncatingRemainder(dividingBy: 1), dt)
                case .electricPiano: value = sin(2 * .pi * phase) + 0.3 * exp(-3 * t) * sin(4 * .pi * phase)
                }
                y[i] += level * Float(envelope * value)
            }
        }
    }

    static func kick(into out: inout [Float], at start: Double, level: Float, rate: Double) {
        let first = Int((start * rate).rounded()), total = Int(0.35 * rate)
        var phase = 0.0
        for k in 0..<total {
            let i = first + k, t = Double(k) / rate
            if i >= out.count { break }
            phase += (48 + 100 * exp(-t / 0.03)) / rate
            guard i >= 0 else { continue }
            out[i] += level * Float(min(1, t / 0.002) * exp(-t / 0.16) * sin(2 * .pi * phase))
        }
    }

    /// A snare (noise plus a tone) or, with `highpass`, a hi-hat; `gate` cuts the tail after that many seconds.
    static func noiseHit(into out: inout [Float], at start: Double, decay: Double, gate: Double?, tone: Double?, highpass: Bool,
                         level: Float, random: inout SplitMix64, rate: Double) {
        let first = Int((start * rate).rounded()), total = Int(((gate ?? 4 * decay) + 0.005) * rate)
        var previous = 0.0
        for k in 0..<total {
            let i = first + k, t = Double(k) / rate
            if i >= out.count { break }
            let noise = 2 * random.nextUnit() - 1
            let shaped = highpass ? noise - previous : noise
            previous = noise
            guard i >= 0 else { continue }
            var value = (highpass ? 0.5 : 0.7) * shaped
            if let tone { value += 0.5 * sin(2 * .pi * tone * t) * exp(-t / 0.05) }
            var envelope = min(1, t / 0.001) * exp(-t / decay)
            if let gate, t > gate { envelope *= max(0, 1 - (t - gate) / 0.005) }
            out[i] += level * Float(envelope * value)
        }
    }

    /// A one-pole low-pass.
    static func lowpass(_ x: inout [Float], cutoff: Double, rate: Double) {
        let a = Float(exp(-2 * Double.pi * cutoff / rate))
        var state: Float = 0
        for i in x.indices {
            state = (1 - a) * x[i] + a * state
            x[i] = state
        }
    }
}
