import Foundation

/// Applies the numbered SQL files of `schema/` in order, each in its own transaction, and records
/// them in `schema_migrations`. Safe to run from several processes at once (an advisory lock
/// serialises them) and on every start.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public struct Status: Sendable {
        public let applied: [(version: Int, name: String, at: Date)]
        public let pending: [Migration]
    }

    /// Arbitrary constant naming the migration lock.
    private static let lockKey: Int64 = 0x7472_6163_656D_6B01

    public let migrations: [Migration]

    public init(migrations: [Migration]) { self.migrations = migrations.sorted { $0.version < $1.version } }

    /// The migrations shipped with this build.
    public static func bundled() throws -> Migrator {
        guard let directory = Bundle.module.url(forResource: "schema", withExtension: nil) else {
            throw RegistryError.migration(file: "schema/", message: "the schema directory is missing from this build")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        let migrations = try files.map { file -> Migration in
            guard let version = Int(file.prefix { $0.isNumber }) else {
                throw RegistryError.migration(file: file, message: "name must start with its number, e.g. 0002_rights.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return Migration(version: version, name: String(file.dropLast(4)), sql: sql)
        }
        return Migrator(migrations: migrations)
    }

    /// Applies what is pending; returns the migrations applied by this call.
    @discardableResult
    public func migrate(_ db: PostgresConnection) throws -> [Migration] {
        try ensureTable(db)
        var applied: [Migration] = []
        for migration in migrations {
            let done = try db.transaction { () -> Bool in
                try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(Self.lockKey)])
                let exists = try db.query("SELECT 1 FROM schema_migrations WHERE version = $1", [.int32(Int32(migration.version))])
                if !exists.rows.isEmpty { return false }
                do { try db.execute(migration.sql) } catch {
                    throw RegistryError.migration(file: migration.name + ".sql", message: "\(error)")
                }
                try db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                             [.int32(Int32(migration.version)), .text(migration.name)])
                return true
            }
            if done { applied.append(migration) }
        }
        return applied
    }

    public func status(_ db: PostgresConnection) throws -> Status {
        try ensureTable(db)
        let rows = try db.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").rows
        let applied = rows.map { (Int($0[0].int ?? 0), $0[1].text ?? "", $0[2].date ?? Date(timeIntervalSince1970: 0)) }
        let versions = Set(applied.map(\.0))
        return Status(applied: applied, pending: migrations.filter { !versions.contains($0.version) })
    }

    private func ensureTable(_ db: PostgresConnection) throws {
        try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(Self.lockKey)])
            try db.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
    }
}
