import Foundation

/// The database role that appends to the history: policy versions (with their holders and
/// policies), verifications and the watermark ledger. It has SELECT and INSERT there and no
/// UPDATE, DELETE or TRUNCATE anywhere (schema 0005), so the append paths run with no more than
/// appending needs.
///
/// The switch is `SET LOCAL ROLE` for the rest of the appending transaction (then back), which
/// limits what those statements can do; it is not a wall against someone who holds the connection,
/// who can switch back. When the role is not usable (an external database whose user may not create
/// roles), appends run as the connecting user, still guarded by the append-only triggers, and
/// `problem` says why for `tracemark doctor` and `tracemark db status`.
public enum HistoryWriter {
    public static let role = "tracemark_history_writer"

    /// Arbitrary constant naming the lock that serialises grant attempts within one database.
    private static let lockKey: Int64 = 0x7472_6163_656D_6B02

    /// Why appends cannot run as the role, or nil when they do.
    public static func problem(_ db: PostgresConnection) throws -> String? {
        try db.query("SELECT history_writer_problem()").rows.first?[0].text
    }

    /// Called on every open, after the migrations: while the role is not usable, tries again to
    /// create and grant it (an administrator may have created it or granted membership since).
    /// Returns the problem that remains, or nil.
    @discardableResult
    public static func prepare(_ db: PostgresConnection) throws -> String? {
        guard try problem(db) != nil else { return nil }
        return try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(lockKey)])
            return try db.query("SELECT grant_history_writer()").rows.first?[0].text
        }
    }

    /// Runs `body` as the role when it is usable, in the caller's transaction when there is one
    /// (ingest stores a track and its rights together), else in a transaction of its own. Takes
    /// locks the role may not take (the ledger's) before calling this.
    static func run<T>(_ db: PostgresConnection, _ body: () throws -> T) throws -> T {
        guard db.inTransaction else {
            // A transaction of its own: the role ends with it.
            return try db.transaction {
                try become(db)
                return try body()
            }
        }
        let previous = try db.query("SELECT current_setting('role')").rows.first?[0].text ?? "none"
        try become(db)
        // On failure the caller's transaction rolls back, and the role setting with it.
        let value = try body()
        try db.query("SELECT set_config('role', $1, true)", [.text(previous)])
        return value
    }

    private static func become(_ db: PostgresConnection) throws {
        try db.query("SELECT set_config('role', $1, true) WHERE history_writer_problem() IS NULL", [.text(role)])
    }
}
