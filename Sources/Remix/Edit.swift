/// An edit: an ordered chain of operations applied to a whole recording, from a YAML or JSON
/// document (`EditParser`) or built in code. Style presets are edits with a name and description.
public struct Edit: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var operations: [EditOperation]

    public init(name: String? = nil, description: String? = nil, operations: [EditOperation]) {
        self.name = name
        self.description = description
        self.operations = operations
    }
}

/// One step of an edit. Times are in seconds, levels in dB, rates in Hz, as the YAML keys say.
public enum EditOperation: Sendable, Equatable {
    case trim(start: Double, end: Double?)
    case fadeIn(duration: Double, curve: FadeCurve)
    case fadeOut(duration: Double, curve: FadeCurve)
    case gain(decibels: Double)
    /// Gain to an integrated loudness (ITU-R BS.1770-4, gated) in LUFS.
    case normalizeLoudness(targetLUFS: Double)
    /// Biquads in series (one for `filter`, several for `eq`).
    case filter([FilterBand])
    case compressor(CompressorSettings)
    case limiter(ceilingDecibels: Double, releaseMilliseconds: Double)
    case saturation(driveDecibels: Double, mix: Double)
    case bitcrush(bits: Int?, sampleRate: Double?)
    case chorus(ChorusSettings)
    case reverb(ReverbSettings)
    case gatedReverb(ReverbSettings, GateSettings)
    case wowFlutter(WowFlutterSettings)
    case vinyl(VinylSettings)
    /// Varispeed: ratio 1.25 plays 25 % faster and a major third higher.
    case speed(ratio: Double)
    /// Tempo with pitch kept: ratio 1.25 plays 25 % faster (duration / 1.25).
    case tempo(ratio: Double)
    /// Pitch with tempo kept.
    case pitch(semitones: Double)
    case reverse
    /// Plays [start, end) `count` times in place, crossfading at each seam.
    case loop(start: Double?, end: Double?, count: Int, crossfadeMilliseconds: Double)
    case isolate(Stem)
    /// Separates the stems of one family and mixes them back with these gains (dB; absent = 0 dB).
    case mixStems([Stem: Double])

    /// The operation's name in edit files.
    public var name: String {
        switch self {
        case .trim: "trim"
        case .fadeIn: "fade_in"
        case .fadeOut: "fade_out"
        case .gain: "gain"
        case .normalizeLoudness: "normalize_loudness"
        case .filter(let bands): bands.count == 1 ? "filter" : "eq"
        case .compressor: "compressor"
        case .limiter: "limiter"
        case .saturation: "saturation"
        case .bitcrush: "bitcrush"
        case .chorus: "chorus"
        case .reverb: "reverb"
        case .gatedReverb: "gated_reverb"
        case .wowFlutter: "wow_flutter"
        case .vinyl: "vinyl"
        case .speed: "speed"
        case .tempo: "tempo"
        case .pitch: "pitch"
        case .reverse: "reverse"
        case .loop: "loop"
        case .isolate: "isolate"
        case .mixStems: "mix_stems"
        }
    }
}

public enum FadeCurve: String, Sendable, CaseIterable {
    /// Amplitude rises linearly.
    case linear
    /// Quarter sine: equal power when two fades overlap.
    case sine
    /// Amplitude follows t^3: slow start, the usual "musical" fade-out when reversed.
    case cubic
}

public struct FilterBand: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case lowpass, highpass, bandpass, notch, lowshelf, highshelf, peaking
    }
    public var kind: Kind
    public var frequency: Double
    /// Resonance; for shelves the shelf slope parameter in Q form.
    public var q: Double
    /// Gain of shelves and peaking bands, in dB; ignored by the others.
    public var gainDecibels: Double

    public init(kind: Kind, frequency: Double, q: Double = 0.5.squareRoot(), gainDecibels: Double = 0) {
        self.kind = kind
        self.frequency = frequency
        self.q = q
        self.gainDecibels = gainDecibels
    }
}

public struct CompressorSettings: Sendable, Equatable {
    public var thresholdDecibels = -20.0
    public var ratio = 4.0
    public var attackMilliseconds = 10.0
    public var releaseMilliseconds = 100.0
    public var kneeDecibels = 6.0
    public var makeupDecibels = 0.0
    public init() {}
}

public struct ChorusSettings: Sendable, Equatable {
    public var rate = 0.8
    public var depthMilliseconds = 3.0
    public var delayMilliseconds = 15.0
    public var voices = 2
    public var mix = 0.5
    public init() {}
}

public struct ReverbSettings: Sendable, Equatable {
    /// 0...1: feedback of the comb filters (decay time).
    public var roomSize = 0.7
    /// 0...1: high-frequency loss per reflection.
    public var damping = 0.5
    public var wet = 0.25
    public var dry = 1.0
    /// 0...1: stereo decorrelation of the tail.
    public var width = 1.0
    public var predelayMilliseconds = 0.0
    public init() {}
}

public struct GateSettings: Sendable, Equatable {
    /// The tail is open while the dry signal's envelope is above this level.
    public var thresholdDecibels = -30.0
    /// How long the tail stays open after the envelope falls below the threshold.
    public var holdMilliseconds = 250.0
    /// How fast it then closes.
    public var releaseMilliseconds = 15.0
    public init() {}
}

public struct WowFlutterSettings: Sendable, Equatable {
    public var wowRate = 0.5
    /// Peak speed deviation of the slow wobble, in percent.
    public var wowPercent = 0.2
    public var flutterRate = 6.0
    public var flutterPercent = 0.05
    public init() {}
}

public struct VinylSettings: Sendable, Equatable {
    /// Average clicks per second.
    public var cracklePerSecond = 8.0
    /// Peak level of the loudest clicks.
    public var crackleDecibels = -30.0
    /// Level of the surface hiss (RMS, dBFS).
    public var hissDecibels = -50.0
    /// Noise is reproducible: the same seed gives the same clicks.
    public var seed = 1
    public init() {}
}

/// The parts stem isolation returns. `vocals` + `accompaniment` and `harmonic` + `percussive`
/// each add up to the input.
public enum Stem: String, Sendable, CaseIterable, Comparable {
    case vocals, accompaniment, harmonic, percussive

    public var family: [Stem] {
        switch self {
        case .vocals, .accompaniment: [.vocals, .accompaniment]
        case .harmonic, .percussive: [.harmonic, .percussive]
        }
    }

    public static func < (a: Stem, b: Stem) -> Bool { a.rawValue < b.rawValue }
}
