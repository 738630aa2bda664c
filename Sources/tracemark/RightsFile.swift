import Foundation
import Registry
import Rights

/// Rights read from a CSV or JSON file: one rule per row, grouped into one policy change per
/// (recording, holder). docs/rights.md documents the columns.
///
/// CSV: a header row, RFC 4180 quoting. JSON: an array of objects with the same keys
/// (`territories` may also be an array of codes).
struct RightsFile {
    static let targetColumns = ["track_id", "isrc", "content_sha256"]
    static let ruleColumns = ["holder", "territories", "valid_from", "valid_until", "replace_fallback"] + Use.allCases.map(\.rawValue)
    static let columns = Set(targetColumns + ruleColumns)

    private(set) var changes: [PolicyChange] = []

    /// Reads and validates the whole file; every bad row is reported, by line, in one error.
    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MetadataSidecar.Failure.unreadable(path, "cannot be read")
        }
        let rows: [(fields: [String: String], origin: String)]
        if path.lowercased().hasSuffix(".json") {
            rows = try Self.jsonRows(data, file: path)
        } else {
            guard let text = String(data: data, encoding: .utf8) else {
                throw MetadataSidecar.Failure.invalid(file: path, line: nil, message: "not UTF-8 text")
            }
            rows = try Self.csvRows(text, file: path)
        }
        var problems: [String] = []
        var grouped: [(key: String, target: PolicyTarget, holder: String, rules: [Rule], origin: String)] = []
        var index: [String: Int] = [:]
        for row in rows {
            do {
                let target = try Self.target(row.fields)
                let (holder, rule) = try Self.rule(row.fields)
                let key = "\(target)|\(holder)"
                if let i = index[key] { grouped[i].rules.append(rule) } else {
                    index[key] = grouped.count
                    grouped.append((key, target, holder, [rule], row.origin))
                }
            } catch {
                problems.append("\(row.origin): \(error)")
            }
        }
        guard problems.isEmpty else { throw RightsImportError.rejected(problems) }
        changes = grouped.map { PolicyChange(target: $0.target, holder: $0.holder, rules: $0.rules, origin: $0.origin) }
    }

    /// The recording a row names: exactly one of track_id, isrc, content_sha256.
    static func target(_ f: [String: String]) throws -> PolicyTarget {
        let given = targetColumns.filter { !(f[$0] ?? "").isEmpty }
        guard given.count == 1, let column = given.first, let value = f[column] else {
            throw PolicyError.invalid("give exactly one of track_id, isrc, content_sha256 (found \(given.isEmpty ? "none" : given.joined(separator: ", ")))")
        }
        switch column {
        case "track_id":
            guard let id = Int32(value), id > 0 else { throw PolicyError.invalid("track_id '\(value)' is not a positive integer") }
            return PolicyTarget(kind: .track, value: String(id))
        case "isrc":
            let isrc = value.replacingOccurrences(of: "-", with: "").uppercased()
            guard isrc.range(of: "^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$", options: .regularExpression) != nil else {
                throw PolicyError.invalid("isrc '\(value)' is not 12 characters of the form CCXXXYYNNNNN")
            }
            return PolicyTarget(kind: .isrc, value: isrc)
        default:
            let sha = value.lowercased()
            guard sha.range(of: "^[0-9a-f]{64}$", options: .regularExpression) != nil else {
                throw PolicyError.invalid("content_sha256 must be 64 hexadecimal digits")
            }
            return PolicyTarget(kind: .content, value: sha)
        }
    }

    /// The holder and the rule a row states; shared with the ingest sidecar's rights columns.
    static func rule(_ f: [String: String]) throws -> (holder: String, rule: Rule) {
        guard let holder = f["holder"], !holder.isEmpty else { throw PolicyError.invalid("holder is missing") }
        let territories = try TerritorySet(parsing: f["territories"] ?? "")
        func date(_ column: String) throws -> Date? {
            guard let text = f[column], !text.isEmpty else { return nil }
            guard let date = parseDate(text) else {
                throw PolicyError.invalid("\(column) '\(text)' is not an ISO 8601 date (2026-01-31) or time (2026-01-31T12:00:00Z)")
            }
            return date
        }
        let from = try date("valid_from"), until = try date("valid_until")
        if let from, let until, until <= from { throw PolicyError.invalid("valid_until must be after valid_from") }
        var actions: [Use: Action] = [:]
        for use in Use.allCases {
            guard let text = f[use.rawValue], !text.isEmpty else { continue }
            guard let action = Action(rawValue: text.lowercased()) else {
                throw PolicyError.invalid("\(use.rawValue) '\(text)' is not one of allow, claim, replace, block")
            }
            actions[use] = action
        }
        var fallback = Action.block
        if let text = f["replace_fallback"], !text.isEmpty {
            guard let action = Action(rawValue: text.lowercased()), action != .replace else {
                throw PolicyError.invalid("replace_fallback '\(text)' is not one of allow, claim, block")
            }
            fallback = action
        }
        return (holder, Rule(territories: territories, validFrom: from, validUntil: until, actions: actions, replaceFallback: fallback))
    }

    static func parseDate(_ text: String) -> Date? {
        let time = ISO8601DateFormatter()
        if let date = time.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }

    private static func csvRows(_ text: String, file: String) throws -> [(fields: [String: String], origin: String)] {
        let records = try CSV.parse(text, file: file)
        guard let header = records.first?.fields.map({ $0.lowercased().trimmingCharacters(in: .whitespaces) }) else {
            throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "empty file")
        }
        if let unknown = header.first(where: { !columns.contains($0) }) {
            throw MetadataSidecar.Failure.invalid(file: file, line: 1, message: "unknown column '\(unknown)' (known: \(columns.sorted().joined(separator: ", ")))")
        }
        var rows: [(fields: [String: String], origin: String)] = []
        for record in records.dropFirst() where !(record.fields.count == 1 && record.fields[0].isEmpty) {
            guard record.fields.count == header.count else {
                throw MetadataSidecar.Failure.invalid(file: file, line: record.line, message: "\(record.fields.count) fields, the header has \(header.count)")
            }
            let fields = Dictionary(zip(header, record.fields.map { $0.trimmingCharacters(in: .whitespaces) }), uniquingKeysWith: { a, _ in a })
            rows.append((fields, "\(file):\(record.line)"))
        }
        return rows
    }

    private static func jsonRows(_ data: Data, file: String) throws -> [(fields: [String: String], origin: String)] {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "malformed JSON (\(error.localizedDescription))")
        }
        guard let array = json as? [Any] else {
            throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "expected an array of rule objects")
        }
        return try array.enumerated().map { i, item in
            let origin = "\(file): item \(i + 1)"
            guard let object = item as? [String: Any] else { throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "item \(i + 1) is not an object") }
            var fields: [String: String] = [:]
            for (key, value) in object {
                let name = key.lowercased()
                guard columns.contains(name) else {
                    throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "item \(i + 1): unknown key '\(key)'")
                }
                switch value {
                case let s as String: fields[name] = s
                case let list as [String] where name == "territories": fields[name] = list.joined(separator: " ")
                case let n as NSNumber where name == "track_id": fields[name] = n.stringValue
                case is NSNull: continue
                default: throw MetadataSidecar.Failure.invalid(file: file, line: nil, message: "item \(i + 1): \(key) has the wrong type")
                }
            }
            return (fields, origin)
        }
    }
}
