import Foundation

/// The remix a user asks for in options rather than a file (`tracemark remix` flags, `POST
/// /v1/remix` query parameters), composed into one edit in a fixed order: trim, stem, the style
/// preset, the edit file, tempo, pitch.
public struct RemixOptions: Sendable {
    public var trim: (start: Double, end: Double?)?
    public var stem: Stem?
    public var style: String?
    public var edit: Edit?
    public var tempo: Double?
    public var pitch: Double?

    public init() {}

    public static let tempoRange = 0.25...4.0
    public static let pitchRange = -24.0...24.0

    public var isEmpty: Bool { trim == nil && stem == nil && style == nil && edit == nil && tempo == nil && pitch == nil }

    /// Why an option's value cannot be used; `option` is its name without dashes.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let option: String
        public let reason: String
        public var description: String { "\(option): \(reason)" }
    }

    /// "A:B" in seconds; either end may be left open ("30:", ":90").
    public static func trim(parsing text: String) throws -> (start: Double, end: Double?) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { throw Problem(option: "trim", reason: "\(text): expected A:B in seconds, such as 12.5:40, :30 or 10:") }
        let start = parts[0].isEmpty ? 0 : Double(parts[0])
        let end = parts[1].isEmpty ? nil : Double(parts[1])
        guard let start, start >= 0, start.isFinite, parts[1].isEmpty || (end?.isFinite ?? false) else {
            throw Problem(option: "trim", reason: "\(text): A and B must be seconds, such as 12.5:40")
        }
        if let end, end <= start { throw Problem(option: "trim", reason: "\(text): B must be after A") }
        return (start, end)
    }

    /// Checks ranges; the style is checked when the edit is composed.
    public func validate() throws {
        if let tempo, !Self.tempoRange.contains(tempo) { throw Problem(option: "tempo", reason: "\(tempo) is outside 0.25-4") }
        if let pitch, !Self.pitchRange.contains(pitch) { throw Problem(option: "pitch", reason: "\(pitch) is outside -24 to 24 semitones") }
    }

    /// The whole chain, in the documented order; the style is read from `styles`.
    public func composed(styles: StyleLibrary) throws -> Edit {
        var operations: [EditOperation] = []
        if let trim { operations.append(.trim(start: trim.start, end: trim.end)) }
        if let stem { operations.append(.isolate(stem)) }
        if let style { operations += try styles.style(named: style).edit.operations }
        if let edit { operations += edit.operations }
        if let tempo { operations.append(.tempo(ratio: tempo)) }
        if let pitch { operations.append(.pitch(semitones: pitch)) }
        return Edit(operations: operations)
    }
}
