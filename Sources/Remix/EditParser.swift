import Yams

/// Reads an edit from YAML or JSON (JSON is read as YAML 1.2 flow style):
///
///     name: my-edit            # optional
///     description: one line    # optional
///     operations:
///       - op: trim
///         start_s: 1.5
///       - op: filter
///         type: lowpass
///         frequency_hz: 4000
///
/// Every field is checked: unknown keys, wrong types and out-of-range values are errors that name
/// the field path and its line.
public enum EditParser {
    public static func parse(_ text: String, source: String) throws -> Edit {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw EditError.syntax(source: source, reason: "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)")
        }
        guard let root else { throw EditError.invalidField(source: source, field: "operations", line: nil, reason: "the document is empty; expected a mapping with an operations list") }
        var top = try Fields(root, path: "", source: source)
        let name = try top.string("name")
        let description = try top.string("description")
        guard let list = top.take("operations") else {
            throw top.error("operations", "is missing; expected a list of operations, each with an `op` key")
        }
        guard let sequence = list.sequence else {
            throw EditError.invalidField(source: source, field: "operations", line: list.mark?.line, reason: "must be a list")
        }
        try top.finish()
        var operations: [EditOperation] = []
        for (index, node) in sequence.enumerated() {
            var fields = try Fields(node, path: "operations[\(index)]", source: source)
            operations.append(try operation(&fields))
            try fields.finish()
        }
        return Edit(name: name, description: description, operations: operations)
    }

    static let operationNames = ["trim", "fade_in", "fade_out", "gain", "normalize_loudness", "filter", "eq",
                                 "compressor", "limiter", "saturation", "bitcrush", "chorus", "reverb", "gated_reverb",
                                 "wow_flutter", "vinyl", "speed", "tempo", "pitch", "reverse", "loop", "isolate", "mix_stems"]

    private static func operation(_ f: inout Fields) throws -> EditOperation {
        guard let op = try f.string("op") else {
            throw f.error("op", "is missing; expected one of \(operationNames.joined(separator: ", "))")
        }
        switch op {
        case "trim":
            let start = try f.double("start_s", default: 0, 0...86_400)
            let end = try f.double("end_s", 0...86_400)
            if let end, end <= start { throw f.error("end_s", "\(end) must be greater than start_s (\(start))") }
            return .trim(start: start, end: end)
        case "fade_in", "fade_out":
            let duration = try f.requiredDouble("duration_s", 0.001...3600)
            let curve = try f.choice("curve", default: FadeCurve.sine)
            return op == "fade_in" ? .fadeIn(duration: duration, curve: curve) : .fadeOut(duration: duration, curve: curve)
        case "gain":
            return .gain(decibels: try f.requiredDouble("db", -120...48))
        case "normalize_loudness":
            return .normalizeLoudness(targetLUFS: try f.double("target_lufs", default: -14, -70...0))
        case "filter":
            return .filter([try band(&f)])
        case "eq":
            guard let node = f.take("bands") else { throw f.error("bands", "is missing; expected a list of filter bands") }
            guard let list = node.sequence, list.count > 0 else {
                throw EditError.invalidField(source: f.source, field: f.path + ".bands", line: node.mark?.line, reason: "must be a non-empty list of bands")
            }
            var bands: [FilterBand] = []
            for (i, item) in list.enumerated() {
                var b = try Fields(item, path: f.path + ".bands[\(i)]", source: f.source)
                bands.append(try band(&b))
                try b.finish()
            }
            return .filter(bands)
        case "compressor":
            var s = CompressorSettings()
            s.thresholdDecibels = try f.double("threshold_db", default: s.thresholdDecibels, -80...0)
            s.ratio = try f.double("ratio", default: s.ratio, 1...100)
            s.attackMilliseconds = try f.double("attack_ms", default: s.attackMilliseconds, 0.01...1000)
            s.releaseMilliseconds = try f.double("release_ms", default: s.releaseMilliseconds, 1...5000)
            s.kneeDecibels = try f.double("knee_db", default: s.kneeDecibels, 0...24)
            s.makeupDecibels = try f.double("makeup_db", default: s.makeupDecibels, -24...48)
            return .compressor(s)
        case "limiter":
            return .limiter(ceilingDecibels: try f.double("ceiling_db", default: -1, -30...0),
                            releaseMilliseconds: try f.double("release_ms", default: 50, 1...2000))
        case "saturation":
            return .saturation(driveDecibels: try f.double("drive_db", default: 12, 0...48),
                               mix: try f.double("mix", default: 1, 0...1))
        case "bitcrush":
            let bits = try f.int("bits", 1...24)
            let rate = try f.double("sample_rate_hz", 100...768_000)
            if bits == nil && rate == nil { throw f.error("bits", "bitcrush needs bits, sample_rate_hz or both") }
            return .bitcrush(bits: bits, sampleRate: rate)
        case "chorus":
            var s = ChorusSettings()
            s.rate = try f.double("rate_hz", default: s.rate, 0.01...20)
            s.depthMilliseconds = try f.double("depth_ms", default: s.depthMilliseconds, 0...30)
            s.delayMilliseconds = try f.double("delay_ms", default: s.delayMilliseconds, 1...50)
            s.voices = try f.int("voices", 1...8) ?? s.voices
            s.mix = try f.double("mix", default: s.mix, 0...1)
            if s.depthMilliseconds >= s.delayMilliseconds { throw f.error("depth_ms", "\(s.depthMilliseconds) must be below delay_ms (\(s.delayMilliseconds))") }
            return .chorus(s)
        case "reverb":
            return .reverb(try reverb(&f, defaults: ReverbSettings()))
        case "gated_reverb":
            var defaults = ReverbSettings()
            defaults.roomSize = 0.9
            defaults.wet = 0.5
            let r = try reverb(&f, defaults: defaults)
            var g = GateSettings()
            g.thresholdDecibels = try f.double("threshold_db", default: g.thresholdDecibels, -90...0)
            g.holdMilliseconds = try f.double("hold_ms", default: g.holdMilliseconds, 1...5000)
            g.releaseMilliseconds = try f.double("release_ms", default: g.releaseMilliseconds, 0.1...1000)
            return .gatedReverb(r, g)
        case "wow_flutter":
            var s = WowFlutterSettings()
            s.wowRate = try f.double("wow_rate_hz", default: s.wowRate, 0.05...5)
            s.wowPercent = try f.double("wow_percent", default: s.wowPercent, 0...5)
            s.flutterRate = try f.double("flutter_rate_hz", default: s.flutterRate, 2...40)
            s.flutterPercent = try f.double("flutter_percent", default: s.flutterPercent, 0...2)
            return .wowFlutter(s)
        case "vinyl":
            var s = VinylSettings()
            s.cracklePerSecond = try f.double("crackle_per_s", default: s.cracklePerSecond, 0...2000)
            s.crackleDecibels = try f.double("crackle_db", default: s.crackleDecibels, -120...0)
            s.hissDecibels = try f.double("hiss_db", default: s.hissDecibels, -120...0)
            s.seed = try f.int("seed", 0...Int(Int32.max)) ?? s.seed
            return .vinyl(s)
        case "speed":
            return .speed(ratio: try f.requiredDouble("ratio", 0.25...4))
        case "tempo":
            return .tempo(ratio: try f.requiredDouble("ratio", 0.25...4))
        case "pitch":
            return .pitch(semitones: try f.requiredDouble("semitones", -24...24))
        case "reverse":
            return .reverse
        case "loop":
            let start = try f.double("start_s", 0...86_400)
            let end = try f.double("end_s", 0...86_400)
            if let start, let end, end <= start { throw f.error("end_s", "\(end) must be greater than start_s (\(start))") }
            return .loop(start: start, end: end, count: try f.int("count", 1...10_000) ?? 2,
                         crossfadeMilliseconds: try f.double("crossfade_ms", default: 10, 0...5000))
        case "isolate":
            guard f.has("stem") else { throw f.error("stem", "is missing; expected one of \(Stem.allCases.map(\.rawValue).joined(separator: ", "))") }
            return .isolate(try f.choice("stem", default: Stem.vocals))
        case "mix_stems":
            guard let node = f.take("gains_db") else {
                throw f.error("gains_db", "is missing; expected a mapping such as {vocals: -6, accompaniment: 0}")
            }
            var g = try Fields(node, path: f.path + ".gains_db", source: f.source)
            var gains: [Stem: Double] = [:]
            for stem in Stem.allCases {
                if let v = try g.double(stem.rawValue, -120...24) { gains[stem] = v }
            }
            try g.finish()
            guard let first = gains.keys.min() else { throw f.error("gains_db", "names no stem; expected vocals, accompaniment, harmonic or percussive") }
            if let stray = gains.keys.sorted().first(where: { !first.family.contains($0) }) {
                throw f.error("gains_db", "mixes \(first.rawValue) with \(stray.rawValue); use one family: vocals/accompaniment or harmonic/percussive")
            }
            return .mixStems(gains)
        default:
            throw f.error("op", "unknown operation '\(op)'; expected one of \(operationNames.joined(separator: ", "))")
        }
    }

    private static func band(_ f: inout Fields) throws -> FilterBand {
        guard f.has("type") else {
            throw f.error("type", "is missing; expected one of \(FilterBand.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let kind = try f.choice("type", default: FilterBand.Kind.lowpass)
        let frequency = try f.requiredDouble("frequency_hz", 1...384_000)
        let q = try f.double("q", default: 0.5.squareRoot(), 0.05...50)
        let gain = try f.double("gain_db", default: 0, -48...48)
        return FilterBand(kind: kind, frequency: frequency, q: q, gainDecibels: gain)
    }

    private static func reverb(_ f: inout Fields, defaults: ReverbSettings) throws -> ReverbSettings {
        var s = defaults
        s.roomSize = try f.double("room_size", default: s.roomSize, 0...1)
        s.damping = try f.double("damping", default: s.damping, 0...1)
        s.wet = try f.double("wet", default: s.wet, 0...1)
        s.dry = try f.double("dry", default: s.dry, 0...1)
        s.width = try f.double("width", default: s.width, 0...1)
        s.predelayMilliseconds = try f.double("predelay_ms", default: s.predelayMilliseconds, 0...500)
        return s
    }
}

/// The keys of one YAML mapping, taken one by one so that leftovers can be reported as unknown.
struct Fields {
    let source: String
    let path: String
    private let line: Int?
    private var entries: [(key: String, value: Node)]
    /// Every key asked for, for the message about an unknown one.
    private var known: [String] = []

    init(_ node: Node, path: String, source: String) throws {
        self.source = source
        self.path = path
        line = node.mark?.line
        guard let mapping = node.mapping else {
            throw EditError.invalidField(source: source, field: path.isEmpty ? "(document)" : path, line: node.mark?.line,
                                         reason: "must be a mapping of keys to values")
        }
        entries = []
        for (key, value) in mapping {
            guard let name = key.string else {
                throw EditError.invalidField(source: source, field: path, line: key.mark?.line, reason: "keys must be strings")
            }
            entries.append((name, value))
        }
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ reason: String) -> EditError {
        let at = entries.first { $0.key == key }?.value.mark?.line ?? line
        return .invalidField(source: source, field: fieldPath(key), line: at, reason: reason)
    }

    mutating func has(_ key: String) -> Bool {
        if !known.contains(key) { known.append(key) }
        return entries.contains { $0.key == key }
    }

    mutating func take(_ key: String) -> Node? {
        if !known.contains(key) { known.append(key) }
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        return entries.remove(at: i).value
    }

    mutating func string(_ key: String) throws -> String? {
        guard let node = take(key) else { return nil }
        guard let scalar = node.scalar else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: node.mark?.line, reason: "must be a string")
        }
        return scalar.string
    }

    mutating func double(_ key: String, _ range: ClosedRange<Double>) throws -> Double? {
        guard let node = take(key) else { return nil }
        guard node.scalar != nil, let value = node.float, value.isFinite else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: node.mark?.line,
                                         reason: "must be a number, got \(node.scalar?.string ?? "a \(node.mapping != nil ? "mapping" : "list")")")
        }
        guard range.contains(value) else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: node.mark?.line,
                                         reason: "\(value.formatted) is outside \(range.lowerBound.formatted)...\(range.upperBound.formatted)")
        }
        return value
    }

    mutating func double(_ key: String, default value: Double, _ range: ClosedRange<Double>) throws -> Double {
        try double(key, range) ?? value
    }

    mutating func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let node = take(key) else { return nil }
        guard node.scalar != nil, let value = node.int else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: node.mark?.line,
                                         reason: "must be a whole number, got \(node.scalar?.string ?? "a collection")")
        }
        guard range.contains(value) else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: node.mark?.line,
                                         reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, default value: T) throws -> T where T.RawValue == String {
        let at = entries.first { $0.key == key }?.value.mark?.line
        guard let text = try string(key) else { return value }
        guard let chosen = T(rawValue: text) else {
            throw EditError.invalidField(source: source, field: fieldPath(key), line: at,
                                         reason: "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return chosen
    }

    mutating func requiredDouble(_ key: String, _ range: ClosedRange<Double>) throws -> Double {
        guard let value = try double(key, range) else { throw error(key, "is missing") }
        return value
    }

    /// Fails on any key not taken.
    func finish() throws {
        guard let stray = entries.first else { return }
        throw EditError.invalidField(source: source, field: fieldPath(stray.key), line: stray.value.mark?.line,
                                     reason: "unknown key; expected \(known.isEmpty ? "no keys" : known.joined(separator: ", "))")
    }
}

extension Double {
    /// 4000 rather than 4000.0 in messages.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
