import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What went wrong backing up or restoring the registry. Messages say what to do about it.
public enum BackupError: Error, CustomStringConvertible, Sendable {
    case unreadable(path: String, reason: String)
    case notAnArchive(path: String, detail: String)
    case notARegistry(path: String)
    /// Restore refused: the target holds data (`force` replaces an embedded registry).
    case notEmpty(RegistryBackup.Contents)
    /// Restore refused: the external database already has the registry's tables.
    case externalNotEmpty
    /// Another session (a daemon, another command) uses the embedded database.
    case inUse(dataDirectory: String)
    case tool(name: String, message: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .notAnArchive(path, detail):
            return "\(path) is not a readable pg_dump archive (made by `tracemark db backup`): \(detail)"
        case let .notARegistry(path):
            return "\(path) is a pg_dump archive, but not of a Tracemark registry (no schema_migrations and watermark_ledger tables)"
        case let .notEmpty(contents):
            return "the registry is not empty (\(contents)); restoring would replace it: pass --force to do so (it is replaced whole, or not at all)"
        case .externalNotEmpty:
            return "the database named by the URL already has Tracemark's tables; restore into a new, empty database (createdb, then pass its URL), "
                + "or drop it and create it again; --force replaces only the embedded registry"
        case let .inUse(directory):
            return "the registry under \(directory) is in use by another session; stop the daemon (and other tracemark commands) and try again; nothing was changed"
        case let .tool(name, message): return "\(name) failed: \(message)"
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// The registry's database as one pg_dump archive (custom format), and back. The programs are
/// the embedded cluster's (`EmbeddedCluster.binDirectory`). Key files are not in the database:
/// they are backed up apart (docs/operations.md).
public enum RegistryBackup {
    /// How much a registry holds.
    public struct Contents: Sendable, Equatable, CustomStringConvertible {
        public var tracks: Int64 = 0
        public var policyVersions: Int64 = 0
        public var verifications: Int64 = 0
        public var ledgerRows: Int64 = 0

        public var isEmpty: Bool { tracks == 0 && policyVersions == 0 && verifications == 0 && ledgerRows == 0 }

        public var description: String {
            "\(tracks) tracks, \(policyVersions) policy versions, \(verifications) verifications, \(ledgerRows) ledger rows"
        }
    }

    /// Name of the database a restore fills before it takes the registry's place.
    static let restoringDatabase = EmbeddedCluster.databaseName + "_restoring"
    static let replacedDatabase = EmbeddedCluster.databaseName + "_replaced"

    /// Writes the database behind `connectionString` to `path` (mode 0600): first to a file next to
    /// it, renamed into place once pg_dump has finished, so `path` is never a partial archive.
    /// pg_dump reads one consistent snapshot: the daemon may keep running.
    public static func backup(connectionString: String, to path: String) throws {
        let partial = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw BackupError.cannotWrite(path: partial, reason: String(cString: strerror(errno)))
        }
        defer { unlink(partial) }
        try run("pg_dump", ["--format=custom", "--no-password", "--file=" + partial, "--dbname=" + connectionString])
        guard chmod(partial, 0o600) == 0, rename(partial, path) == 0 else {
            throw BackupError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Checks that `path` is a pg_dump archive of a registry, without reading its data.
    static func check(archive path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BackupError.unreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
            throw BackupError.unreadable(path: path, reason: isDirectory.boolValue ? "is a directory" : "not readable by this user")
        }
        let listing = try ChildProcess.run(try program("pg_restore"), ["--list", path])
        guard listing.code == 0 else {
            throw BackupError.notAnArchive(path: path, detail: trimmed(listing.output))
        }
        // Table entries read "<id>; <oid> <oid> TABLE <schema> <name> <owner>".
        let tables = Set(listing.output.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard let i = words.firstIndex(of: "TABLE"), i + 2 < words.count else { return nil }
            return String(words[i + 2])
        })
        guard tables.isSuperset(of: ["schema_migrations", "watermark_ledger"]) else {
            throw BackupError.notARegistry(path: path)
        }
    }

    /// Restores the archive at `path` as the registry, in one transaction, then migrates it to
    /// this build's schema. The embedded registry is restored into a database of its own that
    /// takes the registry's place only once it is complete; a registry holding data is replaced
    /// only with `force`. An external database must not have the registry's tables yet.
    @discardableResult
    public static func restore(from path: String, databaseURL: String?, dataDirectory: String, force: Bool) throws -> Contents {
        try check(archive: path)
        var cluster: EmbeddedCluster?
        defer { try? cluster?.stop() }
        if let url = databaseURL, !url.isEmpty {
            let db = try PostgresConnection(connectionString: url)
            guard try existingTables(db).isEmpty else { throw BackupError.externalNotEmpty }
            try run("pg_restore", restoreArguments(into: url, from: path))
        } else {
            let embedded = EmbeddedCluster(dataDirectory: dataDirectory)
            try embedded.start()
            cluster = embedded
            try restoreEmbedded(embedded, from: path, force: force)
        }
        let registry = try Registry(databaseURL: databaseURL, dataDirectory: dataDirectory)
        defer { registry.close() }
        return try contents(registry.connect())
    }

    private static func restoreEmbedded(_ cluster: EmbeddedCluster, from path: String, force: Bool) throws {
        let current = try contents(PostgresConnection(connectionString: cluster.connectionString))
        guard current.isEmpty || force else { throw BackupError.notEmpty(current) }
        let admin = try PostgresConnection(connectionString: cluster.connectionString(database: "postgres"))
        // Left over only by a restore that was killed: never the registry itself.
        try admin.execute("DROP DATABASE IF EXISTS \(restoringDatabase)")
        try admin.execute("DROP DATABASE IF EXISTS \(replacedDatabase)")
        try admin.execute("CREATE DATABASE \(restoringDatabase)")
        do {
            try run("pg_restore", restoreArguments(into: cluster.connectionString(database: restoringDatabase), from: path))
            try admin.transaction {
                try admin.execute("ALTER DATABASE \(EmbeddedCluster.databaseName) RENAME TO \(replacedDatabase)")
                try admin.execute("ALTER DATABASE \(restoringDatabase) RENAME TO \(EmbeddedCluster.databaseName)")
            }
        } catch {
            try? admin.execute("DROP DATABASE IF EXISTS \(restoringDatabase)")
            // 55006 object_in_use: someone is connected to the registry's database.
            if case let RegistryError.statement(_, state) = error, state == "55006" {
                throw BackupError.inUse(dataDirectory: cluster.dataDirectory)
            }
            throw error
        }
        try admin.execute("DROP DATABASE \(replacedDatabase)")
    }

    /// pg_restore into an empty database, all or nothing. Ownership and grants are this server's
    /// business: objects belong to the restoring user, and opening the registry grants the history
    /// role again (`HistoryWriter.prepare`).
    private static func restoreArguments(into connectionString: String, from path: String) -> [String] {
        ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges", "--no-password",
         "--dbname=" + connectionString, path]
    }

    /// Rows in the tables that make a registry non-empty; zero for tables that do not exist yet.
    public static func contents(_ db: PostgresConnection) throws -> Contents {
        let tables = try existingTables(db)
        func count(_ table: String) throws -> Int64 {
            // The name is one of `registryTables`, never input.
            guard tables.contains(table) else { return 0 }
            return try db.query("SELECT count(*) FROM \(table)").rows.first?[0].int ?? 0
        }
        return Contents(tracks: try count("tracks"), policyVersions: try count("policy_versions"),
                        verifications: try count("verifications"), ledgerRows: try count("watermark_ledger"))
    }

    /// The tables whose presence makes a database a registry, and whose rows make one non-empty.
    static let registryTables = ["schema_migrations", "tracks", "policy_versions", "verifications", "watermark_ledger"]

    private static func existingTables(_ db: PostgresConnection) throws -> Set<String> {
        let rows = try db.query("SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL", [.textArray(registryTables)])
        return Set(rows.rows.compactMap { $0[0].text })
    }

    private static func program(_ name: String) throws -> String {
        let path = try EmbeddedCluster.binDirectory() + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BackupError.tool(name: name, message: "\(path) not found; install PostgreSQL's client programs of the same version")
        }
        return path
    }

    private static func run(_ name: String, _ arguments: [String]) throws {
        let result = try ChildProcess.run(try program(name), arguments)
        guard result.code == 0 else { throw BackupError.tool(name: name, message: trimmed(result.output)) }
    }

    private static func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
}
