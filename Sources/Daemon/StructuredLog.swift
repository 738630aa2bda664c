import Foundation
import Logging

/// How the daemon writes its log lines (`log.format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `time=... level=info msg=request route=/v1/match status=200 ...`, one event per line.
    case logfmt
    /// One JSON object per line.
    case json
    /// swift-log's plain text.
    case text
}

/// A log handler that writes one structured line per event to standard error: time, level,
/// message, then the metadata in key order. Lines are written whole, under a lock.
public struct StructuredLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let format: LogFormat
    let label: String
    static let output = LineWriter()

    public init(label: String, format: LogFormat, level: Logger.Level) {
        self.label = label
        self.format = format
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [("time", Self.timestamp()), ("level", event.level.rawValue), ("msg", "\(event.message)")]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        if let error = event.error { fields.append(("error", "\(error)")) }
        Self.output.write(Self.line(fields, format: format))
    }

    static func line(_ fields: [(String, String)], format: LogFormat) -> String {
        switch format {
        case .json:
            return "{" + fields.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}"
        case .logfmt, .text:
            return fields.map { key, value in
                let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value != 0x7F }
                return "\(key)=\(bare ? value : quoted(value))"
            }.joined(separator: " ")
        }
    }

    /// A JSON string literal (logfmt quotes the same way).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Serialises whole lines onto standard error.
    final class LineWriter: @unchecked Sendable {
        private let lock = NSLock()
        func write(_ line: String) {
            lock.lock()
            defer { lock.unlock() }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

/// What a handler found out about its request (the match, the decision, the serial), collected
/// for the one log line the middleware writes when the request is answered.
public final class RequestSummary: @unchecked Sendable {
    private let lock = NSLock()
    private var fields: [String: String] = [:]

    public init() {}

    public func set(_ key: String, _ value: some CustomStringConvertible) {
        lock.lock()
        defer { lock.unlock() }
        fields[key] = value.description
    }

    public var metadata: Logger.Metadata {
        lock.lock()
        defer { lock.unlock() }
        return fields.mapValues { .string($0) }
    }
}
