/// Why an edit cannot be read or applied. Messages name the file, the field (with its line when
/// it came from a file) and what would be accepted.
public enum EditError: Error, Equatable, CustomStringConvertible {
    /// The document is not YAML/JSON at all.
    case syntax(source: String, reason: String)
    /// A field is missing, unknown, of the wrong type or out of range. `field` is a path such as
    /// `operations[2].frequency_hz`.
    case invalidField(source: String, field: String, line: Int?, reason: String)
    /// The edit is valid but cannot apply to this audio (a trim past its end, a filter above Nyquist).
    case notApplicable(operation: String, index: Int, reason: String)
    /// No style of that name in the searched directories.
    case unknownStyle(name: String, searched: [String], available: [String])

    public var description: String {
        switch self {
        case let .syntax(source, reason):
            return "\(source): not a YAML or JSON edit (\(reason))"
        case let .invalidField(source, field, line, reason):
            let at = line.map { " (line \($0))" } ?? ""
            return "\(source): \(field)\(at): \(reason)"
        case let .notApplicable(operation, index, reason):
            return "operations[\(index)] (\(operation)): \(reason)"
        case let .unknownStyle(name, searched, available):
            let list = available.isEmpty ? "none found" : available.joined(separator: ", ")
            return "no style named '\(name)' in \(searched.joined(separator: ", ")); available: \(list)"
        }
    }

    /// The field path for `invalidField`, for tests and API error bodies.
    public var field: String? {
        if case let .invalidField(_, field, _, _) = self { return field }
        return nil
    }
}
