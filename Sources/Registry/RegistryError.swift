/// What went wrong talking to PostgreSQL or managing it. Messages say what to do about it.
public enum RegistryError: Error, CustomStringConvertible, Sendable {
    /// The server cannot be reached (not running, restarting, wrong URL).
    case unavailable(String)
    /// A statement failed; `sqlState` is PostgreSQL's five-character code.
    case statement(message: String, sqlState: String?)
    /// The embedded cluster could not be created, started or stopped.
    case cluster(String)
    case migration(file: String, message: String)
    /// The fingerprint table's layout cannot be changed as asked.
    case layout(String)
    /// A shard cannot be added or a partition moved as asked (unknown name, unreachable URL).
    case shards(String)
    /// A value in a result did not have the expected type or shape.
    case decoding(String)

    public var description: String {
        switch self {
        case let .unavailable(message): return "database unavailable: \(message)"
        case let .statement(message, state): return "database error\(state.map { " \($0)" } ?? ""): \(message)"
        case let .cluster(message): return "embedded PostgreSQL: \(message)"
        case let .migration(file, message): return "migration \(file) failed: \(message)"
        case let .layout(message): return "fingerprint layout: \(message)"
        case let .shards(message): return "shards: \(message)"
        case let .decoding(message): return "unexpected database result: \(message)"
        }
    }

    /// True when the server's disk is full (SQLSTATE 53100): nothing more can be written until
    /// space is freed, so every further write fails the same way.
    public var isDiskFull: Bool {
        if case let .statement(_, state) = self { return state == "53100" }
        return false
    }

    /// The shard a statement could not reach, when that is why it failed. postgres_fdw reports
    /// `could not connect to server "NAME"` (SQLSTATE 08001) on the coordinator's connection,
    /// which itself stays usable; a foreign server is named after its shard.
    public var unavailableShard: String? {
        guard case let .statement(message, state) = self, state?.hasPrefix("08") == true,
              let start = message.range(of: "server \""),
              let end = message[start.upperBound...].firstIndex(of: "\"") else { return nil }
        let name = message[start.upperBound..<end]
        return name.isEmpty ? nil : String(name)
    }

    /// True when the failure is the connection, not the statement: worth a reconnect.
    public var isConnectionLoss: Bool {
        switch self {
        case .unavailable: return true
        case let .statement(_, state): return state?.hasPrefix("08") == true || state == "57P01" || state == "57P02" || state == "57P03"
        default: return false
        }
    }
}
