import Foundation
import Rights

/// Titles, artists, albums and ISRCs for masters, read from a CSV or JSON sidecar and keyed by
/// file name or path.
///
/// CSV: a header row naming the columns `file` (or `path`), `title`, `artist`, `album`, `isrc`,
/// and optionally one rights rule per master in the columns of `tracemark rights import`
/// (`holder`, `territories`, `valid_from`, `valid_until`, a column per use, `replace_fallback`);
/// RFC 4180 quoting. JSON: an array of objects with the same keys, or an object whose keys are
/// file names and whose values are such objects.
struct MetadataSidecar {
    struct Entry: Equatable {
        var title: String?
        var artist: String?
        var album: String?
        var isrc: String?
        /// A rights rule for the master, attached to its content hash at ingest.
        var rights: (holder: String, rule: Rule)?

        static func == (a: Entry, b: Entry) -> Bool {
            (a.title, a.artist, a.album, a.isrc) == (b.title, b.artist, b.album, b.isrc)
                && a.rights?.holder == b.rights?.holder && a.rights?.rule == b.rights?.rule
        }
    }

    static let columns: Set<String> = Set(["file", "path", "title", "artist", "album", "isrc"] + RightsFile.ruleColumns)

    enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case invalid(file: String, line: Int?, message: String)

        var description: String {
            switch self {
            case let .unreadable(file, reason): return "\(file): \(reason)"
            case let .invalid(file, line, message): return "\(file)\(line.map { ":\($0)" } ?? ""): \(message)"
            }
        }
    }

    private(set) var entries: [String: Entry] = [:]
    /// The file read, if any.
    private(set) var path: String?

    init() {}

    init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure.unreadable(path, "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure.invalid(file: path, line: nil, message: "not UTF-8 text")
        }
        if path.lowercased().hasSuffix(".json") {
            try loadJSON(data, file: path)
        } else {
            try loadCSV(text, file: path)
        }
    }

    /// The entry for a file: by path as given, by absolute path, then by file name.
    func entry(for path: String) -> Entry? {
        entries[path] ?? entries[URL(fileURLWithPath: path).standardizedFileURL.path] ?? entries[(path as NSString).lastPathComponent]
    }

    private mutating func add(key: String, _ fields: [String: String], file: String, line: Int?) throws {
        let key = key.trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { throw Failure.invalid(file: file, line: line, message: "missing file name (column 'file' or 'path')") }
        var isrc = fields["isrc"].map { $0.replacingOccurrences(of: "-", with: "").uppercased().trimmingCharacters(in: .whitespaces) }
        if isrc?.isEmpty == true { isrc = nil }
        if let isrc, isrc.range(of: "^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$", options: .regularExpression) == nil {
            throw Failure.invalid(file: file, line: line, message: "ISRC '\(fields["isrc"] ?? "")' is not 12 characters of the form CCXXXYYNNNNN")
        }
        func value(_ name: String) -> String? {
            guard let v = fields[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if entries[key] != nil { throw Failure.invalid(file: file, line: line, message: "'\(key)' is listed twice") }
        var rights: (holder: String, rule: Rule)?
        if RightsFile.ruleColumns.contains(where: { value($0) != nil }) {
            do { rights = try RightsFile.rule(fields.mapValues { $0.trimmingCharacters(in: .whitespaces) }) } catch {
                throw Failure.invalid(file: file, line: line, message: "rights: \(error)")
            }
        }
        entries[key] = Entry(title: value("title"), artist: value("artist"), album: value("album"), isrc: isrc, rights: rights)
    }

    private mutating func loadCSV(_ text: String, file: String) throws {
        let records = try CSV.parse(text, file: file)
        guard let header = records.first?.fields.map({ $0.lowercased().trimmingCharacters(in: .whitespaces) }) else {
            throw Failure.invalid(file: file, line: nil, message: "empty file")
        }
        guard let keyColumn = header.firstIndex(of: "file") ?? header.firstIndex(of: "path") else {
            throw Failure.invalid(file: file, line: 1, message: "the header needs a 'file' or 'path' column")
        }
        if let unknown = header.first(where: { !Self.columns.contains($0) && !$0.isEmpty }) {
            throw Failure.invalid(file: file, line: 1, message: "unknown column '\(unknown)' (known: \(Self.columns.sorted().joined(separator: ", ")))")
        }
        for record in records.dropFirst() where !(record.fields.count == 1 && record.fields[0].isEmpty) {
            guard record.fields.count == header.count else {
                throw Failure.invalid(file: file, line: record.line, message: "\(record.fields.count) fields, the header has \(header.count)")
            }
            let fields = Dictionary(zip(header, record.fields), uniquingKeysWith: { a, _ in a })
            try add(key: record.fields[keyColumn], fields, file: file, line: record.line)
        }
    }

    private mutating func loadJSON(_ data: Data, file: String) throws {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw Failure.invalid(file: file, line: nil, message: "malformed JSON (\(error.localizedDescription))")
        }
        func fields(_ object: Any, at place: String) throws -> [String: String] {
            guard let dict = object as? [String: Any] else {
                throw Failure.invalid(file: file, line: nil, message: "\(place) is not an object")
            }
            var out: [String: String] = [:]
            for (k, v) in dict {
                let key = k.lowercased()
                guard Self.columns.contains(key) else {
                    throw Failure.invalid(file: file, line: nil, message: "\(place): unknown key '\(k)'")
                }
                if key == "territories", let codes = v as? [String] {
                    out[key] = codes.joined(separator: " ")
                    continue
                }
                guard let s = v as? String else {
                    throw Failure.invalid(file: file, line: nil, message: "\(place).\(k) must be a string")
                }
                out[key] = s
            }
            return out
        }
        if let array = json as? [Any] {
            for (i, object) in array.enumerated() {
                let f = try fields(object, at: "[\(i)]")
                try add(key: f["file"] ?? f["path"] ?? "", f, file: file, line: nil)
            }
        } else if let dict = json as? [String: Any] {
            for (name, object) in dict { try add(key: name, try fields(object, at: name), file: file, line: nil) }
        } else {
            throw Failure.invalid(file: file, line: nil, message: "expected an array of objects or an object keyed by file name")
        }
    }
}

/// RFC 4180 CSV: fields separated by commas, optionally double-quoted with "" as an escaped quote.
enum CSV {
    struct Record {
        var fields: [String]
        var line: Int
    }

    static func parse(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var recordLine = 1
        var chars = Array(text.unicodeScalars)[...]
        if chars.first == "\u{FEFF}" { chars = chars.dropFirst() }
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.endIndex, chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                guard field.isEmpty else { throw MetadataSidecar.Failure.invalid(file: file, line: line, message: "quote inside an unquoted field") }
                quoted = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", i + 1 < chars.endIndex, chars[i + 1] == "\n" { i += 1 }
                fields.append(field); field = ""
                records.append(Record(fields: fields, line: recordLine))
                fields = []
                line += 1
                recordLine = line
            } else {
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if quoted { throw MetadataSidecar.Failure.invalid(file: file, line: recordLine, message: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(fields: fields, line: recordLine))
        }
        return records
    }
}
