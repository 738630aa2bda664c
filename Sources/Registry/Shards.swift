import Foundation

/// A PostgreSQL server that holds partitions of the fingerprint table.
public struct Shard: Sendable, Equatable {
    public let name: String
    /// The URL it was added with, without its password.
    public let url: String
}

/// Where one partition of the fingerprint table lives.
public struct PartitionPlacement: Sendable, Equatable {
    public let remainder: Int
    /// The shard holding it, or nil on the coordinator.
    public let shard: String?
    public var name: String { "fingerprints_p\(remainder)" }
    public var location: String { shard ?? Shards.local }
}

/// Shards of the registry: PostgreSQL servers registered as postgres_fdw foreign servers of the
/// same name, each holding partitions of `fingerprints` as foreign tables attached in the
/// partitions' places (docs/scaling.md). The daemon's statements do not change: the coordinator
/// fans a lookup out to the shards (asynchronous foreign scans) and routes ingest rows to them.
///
/// Every change is one coordinator transaction; postgres_fdw commits the shard's part of it
/// when the coordinator commits, so a failure anywhere leaves every partition where it was.
public enum Shards {
    /// The name `move` takes for the coordinator.
    public static let local = "local"
    /// Where the per-shard probe foreign tables live (one per shard, named after it).
    static let probeSchema = "tracemark_shard_probes"
    /// Seconds a shard gets to accept a connection, unless its URL says otherwise.
    public static let defaultConnectTimeout = 5
    /// Arbitrary constant naming the shards lock (two moves or adds at once: the second waits).
    private static let lockKey: Int64 = 0x7472_6163_656D_6B04

    public static func list(_ db: PostgresConnection) throws -> [Shard] {
        try db.query("SELECT name, url FROM shards ORDER BY name").rows.map {
            Shard(name: $0[0].text ?? "", url: $0[1].text ?? "")
        }
    }

    /// Whether any partition of the fingerprint table lives on a shard (a catalog read, no shard
    /// contacted): ingest writes with `INSERT` rather than `COPY` then.
    public static func holdPartitions(_ db: PostgresConnection) throws -> Bool {
        try db.query("""
            SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_foreign_table t ON t.ftrelid = i.inhrelid
                           WHERE i.inhparent = to_regclass('fingerprints'))
            """).rows.first?[0] == .bool(true)
    }

    /// Every partition of the fingerprint table and where it lives, in remainder order.
    public static func placements(_ db: PostgresConnection) throws -> [PartitionPlacement] {
        let rows = try db.query("""
            SELECT pg_get_expr(c.relpartbound, c.oid), s.srvname::text
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            LEFT JOIN pg_foreign_table t ON t.ftrelid = c.oid
            LEFT JOIN pg_foreign_server s ON s.oid = t.ftserver
            WHERE i.inhparent = to_regclass('fingerprints')
            """).rows
        return rows.compactMap { row -> PartitionPlacement? in
            guard let bound = row[0].text, let remainder = remainder(ofBound: bound) else { return nil }
            return PartitionPlacement(remainder: remainder, shard: row[1].text)
        }.sorted { $0.remainder < $1.remainder }
    }

    /// Rows of one partition, counted where it lives (through postgres_fdw for a shard's).
    public static func rowCount(_ db: PostgresConnection, of placement: PartitionPlacement, timeoutSeconds: Int) throws -> Int {
        try withStatementTimeout(db, seconds: timeoutSeconds) {
            Int(try db.query("SELECT count(*) FROM \(placement.name)").rows.first?[0].int ?? 0)
        }
    }

    // MARK: add

    /// Registers the PostgreSQL database at `url` as a shard named `name` (default `shard<n>`):
    /// checks that it answers and is not a registry itself, creates there an empty table of the
    /// fingerprint shape (with the covering index) for every partition, then registers it in one
    /// coordinator transaction (postgres_fdw server with `async_capable`, user mapping, a probe
    /// read through it, the row in `shards`).
    public static func add(_ db: PostgresConnection, url: String, name requested: String? = nil,
                           connectTimeout: Int = defaultConnectTimeout) throws -> Shard {
        guard case let .hashPartitioned(partitions) = try FingerprintLayout.current(db) else {
            throw RegistryError.shards("the fingerprint table is unpartitioned: shards hold partitions, so run `tracemark db init --partitions N` first; nothing was changed")
        }
        let connection = try ShardConnection(url: url)
        let existing = try list(db)
        let name = try requested ?? nextName(existing)
        guard name.wholeMatch(of: /[a-z][a-z0-9_]{0,39}/) != nil, name != local else {
            throw RegistryError.shards("\"\(name)\" cannot name a shard: use lower-case letters, digits and _ (starting with a letter, at most 40), and not \"\(local)\"; nothing was changed")
        }
        if let same = existing.first(where: { $0.name == name }) {
            throw RegistryError.shards("a shard named \(name) already exists (\(same.url)); nothing was changed")
        }
        for shard in existing {
            if let other = try? ShardConnection(url: shard.url), other.identity == connection.identity {
                throw RegistryError.shards("\(connection.displayURL) is already the shard \(shard.name); nothing was changed")
            }
        }
        if !(try db.query("SELECT 1 FROM pg_foreign_server WHERE srvname = $1", [.text(name)]).rows.isEmpty) {
            throw RegistryError.shards("the coordinator already has a foreign server named \(name) that is not a shard: choose another --name; nothing was changed")
        }

        let schema = try prepare(connection, partitions: partitions, connectTimeout: connectTimeout)

        try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(lockKey)])
            do { try db.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw") } catch {
                throw RegistryError.shards("the coordinator cannot use postgres_fdw (\(error)): Debian's postgresql package provides it, and creating it needs a superuser; nothing was changed")
            }
            var serverOptions = connection.serverOptions
            if connection.value("connect_timeout") == nil { serverOptions.append(("connect_timeout", String(connectTimeout))) }
            // Lookups fan out to every shard at once; ingest and moves send rows in batches.
            serverOptions += [("async_capable", "true"), ("fetch_size", "10000"), ("batch_size", "1000")]
            try execute(db, "CREATE SERVER %1$I FOREIGN DATA WRAPPER postgres_fdw OPTIONS (\(placeholders(serverOptions.count, from: 2)))",
                        [name] + serverOptions.flatMap { [$0.key, $0.value] })
            let mapping = connection.userMappingOptions
            try execute(db, "CREATE USER MAPPING FOR CURRENT_USER SERVER %1$I" + (mapping.isEmpty ? "" : " OPTIONS (\(placeholders(mapping.count, from: 2)))"),
                        [name] + mapping.flatMap { [$0.key, $0.value] })
            try db.execute("CREATE SCHEMA IF NOT EXISTS \(probeSchema)")
            try execute(db, "CREATE FOREIGN TABLE \(probeSchema).%1$I (hash integer) SERVER %1$I OPTIONS (schema_name %2$L, table_name 'fingerprints_p0')",
                        [name, schema])
            // The coordinator's server, not only this command, must reach the shard.
            do { try db.query("SELECT 1 FROM \(probeSchema).\"\(name)\" LIMIT 1") } catch {
                throw RegistryError.shards("the shard answers this command but not the coordinator's server through postgres_fdw (\(error)); nothing was changed")
            }
            try db.query("INSERT INTO shards (name, url) VALUES ($1, $2)", [.text(name), .text(connection.displayURL)])
        }
        return Shard(name: name, url: connection.displayURL)
    }

    private static func nextName(_ existing: [Shard]) throws -> String {
        let used = Set(existing.map(\.name))
        var n = 1
        while used.contains("shard\(n)") { n += 1 }
        return "shard\(n)"
    }

    /// Connects to the shard directly and creates the partition tables there (idempotent: an add
    /// that failed later can be run again). Returns the schema they are in.
    private static func prepare(_ connection: ShardConnection, partitions: Int, connectTimeout: Int) throws -> String {
        let shard: PostgresConnection
        do {
            shard = try PostgresConnection(connectionString: connection.connectionString(connectTimeout: connectTimeout))
        } catch {
            throw RegistryError.shards("the shard at \(connection.displayURL) does not answer (\(error)); nothing was changed")
        }
        do {
            if try shard.query("SELECT to_regclass('tracks') IS NOT NULL").rows.first?[0] == .bool(true) {
                throw RegistryError.shards("the database at \(connection.displayURL) is a registry (it has a tracks table), perhaps this one: a shard needs a database of its own; nothing was changed")
            }
            return try shard.transaction {
                for remainder in 0..<partitions {
                    // Names are made here from integers, never from input.
                    try shard.execute("""
                        CREATE TABLE IF NOT EXISTS fingerprints_p\(remainder) (
                            hash integer NOT NULL, track_id integer NOT NULL, frame integer NOT NULL);
                        CREATE INDEX IF NOT EXISTS fingerprints_p\(remainder)_hash
                            ON fingerprints_p\(remainder) (hash) INCLUDE (track_id, frame);
                        """)
                }
                guard let schema = try shard.query("SELECT current_schema()::text").rows.first?[0].text else {
                    throw RegistryError.shards("the shard at \(connection.displayURL) has no schema to create tables in; nothing was changed")
                }
                return schema
            }
        } catch let error as RegistryError {
            if case .shards = error { throw error }
            throw RegistryError.shards("could not prepare the shard at \(connection.displayURL) (\(error)); nothing was changed")
        }
    }

    // MARK: move

    public struct MoveOutcome: Sendable, Equatable {
        public let partition: String
        public let from: String
        public let to: String
        /// Rows copied; nil when the partition was already there.
        public let rows: Int?
    }

    /// Moves one partition (`fingerprints_p3`, `p3` or `3`) to a shard, or back to the coordinator
    /// with `local`, in one coordinator transaction:
    ///
    /// 1. `LOCK TABLE ONLY fingerprints IN SHARE ROW EXCLUSIVE MODE`: ingest (which writes through
    ///    the parent) waits, lookups go on reading the partition where it is. The lock is on the
    ///    parent, not the partition: ingest holds the parent while it waits for a partition, so
    ///    locking the partition first and then the parent (DETACH needs it exclusively) would
    ///    deadlock with it.
    /// 2. The partition's rows go to their new table (on a shard, through a foreign table of the
    ///    shard's empty table), and count and sums are compared on both sides.
    /// 3. DETACH the old, drop it, ATTACH the new `FOR VALUES WITH (MODULUS n, REMAINDER k)`: the
    ///    parent is locked exclusively for these catalog changes only, and a lookup sees the
    ///    partition before the move or after, never both or neither.
    ///
    /// postgres_fdw commits the shard's transaction when the coordinator commits: an error at any
    /// step leaves the partition where it was, and rows a failed move left on a shard are never
    /// read (its table is emptied before the next move there).
    public static func move(_ db: PostgresConnection, partition: String, to target: String) throws -> MoveOutcome {
        guard case let .hashPartitioned(partitions) = try FingerprintLayout.current(db) else {
            throw RegistryError.shards("the fingerprint table is unpartitioned: there are no partitions to move (`tracemark db init --partitions N`); nothing was changed")
        }
        guard let remainder = parsePartition(partition), (0..<partitions).contains(remainder) else {
            throw RegistryError.shards("unknown partition \"\(partition)\": the fingerprint table has fingerprints_p0 to fingerprints_p\(partitions - 1); nothing was changed")
        }
        let outcome: MoveOutcome
        do {
            outcome = try switchPartition(db, remainder: remainder, of: partitions, to: target)
        } catch let error as RegistryError where error.unavailableShard != nil {
            throw RegistryError.shards("the shard \(error.unavailableShard ?? "") does not answer (\(firstLine(of: error))); nothing was changed")
        }
        // Index-only scans need the visibility map of the new pages (as after an ingest). A
        // shard's table gets it from the shard's autovacuum.
        if outcome.rows != nil, target == local { try db.execute("VACUUM (ANALYZE) \(outcome.partition)") }
        return outcome
    }

    private static func switchPartition(_ db: PostgresConnection, remainder: Int, of partitions: Int, to target: String) throws -> MoveOutcome {
        let name = "fingerprints_p\(remainder)"
        let incoming = name + "_incoming"
        return try db.transaction { () -> MoveOutcome in
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(lockKey)])
            let shards = try list(db)
            if target != local, !shards.contains(where: { $0.name == target }) {
                let known = shards.isEmpty ? "there are no shards (`tracemark db shards add URL`)" : "the shards are " + shards.map(\.name).joined(separator: ", ")
                throw RegistryError.shards("unknown shard \"\(target)\": \(known), or \(local) for the coordinator; nothing was changed")
            }
            guard let current = try placements(db).first(where: { $0.remainder == remainder }) else {
                throw RegistryError.shards("\(name) is not a partition of the fingerprint table; nothing was changed")
            }
            guard current.location != target else {
                return MoveOutcome(partition: name, from: current.location, to: target, rows: nil)
            }
            try db.execute("LOCK TABLE ONLY fingerprints IN SHARE ROW EXCLUSIVE MODE")
            if target == local {
                try db.execute("CREATE TABLE \(incoming) (LIKE fingerprints)")
            } else {
                let schema = try remoteSchema(db, of: target)
                try execute(db, "CREATE FOREIGN TABLE \(incoming) (hash integer NOT NULL, track_id integer NOT NULL, frame integer NOT NULL) SERVER %1$I OPTIONS (schema_name %2$L, table_name %3$L)",
                            [target, schema, name])
                try db.execute("TRUNCATE \(incoming)")
            }
            let copied = try db.query("INSERT INTO \(incoming) SELECT hash, track_id, frame FROM \(name)").affected
            // sum(integer) is a bigint: exact, and computed on the shard (aggregates are pushed down).
            let summary = "count(*), coalesce(sum(hash), 0), coalesce(sum(track_id), 0), coalesce(sum(frame), 0)"
            let before = try db.query("SELECT \(summary) FROM \(name)").rows.first
            let after = try db.query("SELECT \(summary) FROM \(incoming)").rows.first
            guard let before, before == after, before[0].int == Int64(copied) else {
                throw RegistryError.shards("the copy of \(name) does not match its source (\(copied) rows copied); nothing was changed")
            }
            try db.execute("""
                ALTER TABLE fingerprints DETACH PARTITION \(name);
                DROP \(current.shard == nil ? "TABLE" : "FOREIGN TABLE") \(name);
                ALTER \(target == local ? "TABLE" : "FOREIGN TABLE") \(incoming) RENAME TO \(name);
                ALTER TABLE fingerprints ATTACH PARTITION \(name) FOR VALUES WITH (MODULUS \(partitions), REMAINDER \(remainder));
                """)
            return MoveOutcome(partition: name, from: current.location, to: target, rows: copied)
        }
    }

    static func parsePartition(_ text: String) -> Int? {
        var digits = Substring(text)
        if digits.hasPrefix("fingerprints_") { digits = digits.dropFirst("fingerprints_".count) }
        if digits.hasPrefix("p") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    private static func remainder(ofBound bound: String) -> Int? {
        guard let match = bound.firstMatch(of: /remainder (\d+)/) else { return nil }
        return Int(match.1)
    }

    /// The schema the shard's tables were made in (the probe table's, recorded at add).
    private static func remoteSchema(_ db: PostgresConnection, of shard: String) throws -> String {
        let rows = try db.query("""
            SELECT substring(option FROM length('schema_name=') + 1)
            FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid, unnest(t.ftoptions) AS option
            WHERE c.relnamespace = to_regnamespace($1) AND c.relname = $2 AND option LIKE 'schema_name=%'
            """, [.text(probeSchema), .text(shard)]).rows
        return rows.first?[0].text ?? "public"
    }

    // MARK: remove

    /// Unregisters a shard that holds no partition, in one coordinator transaction: its
    /// postgres_fdw server with the user mapping and probe table (`DROP SERVER ... CASCADE`) and
    /// its row in `shards`. Refuses while a partition lives there, since the cascade would drop
    /// the partition's foreign table and its rows would leave the catalog. The shard's database is
    /// not contacted (it may be gone for good) and keeps its tables.
    public static func remove(_ db: PostgresConnection, name: String) throws {
        try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(lockKey)])
            guard try list(db).contains(where: { $0.name == name }) else {
                throw RegistryError.shards("there is no shard named \(name) (see `tracemark db shards list`); nothing was changed")
            }
            let held = try placements(db).filter { $0.shard == name }.map(\.name)
            guard held.isEmpty else {
                throw RegistryError.shards("the shard \(name) holds \(held.joined(separator: ", ")): move \(held.count == 1 ? "it" : "them") first (`tracemark db shards move PARTITION local` or to another shard); nothing was changed")
            }
            try execute(db, "DROP SERVER %1$I CASCADE", [name])
            try db.query("DELETE FROM shards WHERE name = $1", [.text(name)])
        }
    }

    // MARK: check

    public struct Probe: Sendable, Equatable {
        public let shard: Shard
        /// nil when the shard answered.
        public let problem: String?
        public let milliseconds: Double
        public var isUp: Bool { problem == nil }
    }

    /// Reads from every shard through the coordinator's postgres_fdw (the path lookups take),
    /// each within `timeoutSeconds` (connect_timeout bounds the connection, statement_timeout the read).
    public static func check(_ db: PostgresConnection, timeoutSeconds: Int) throws -> [Probe] {
        try list(db).map { shard in
            let start = ContinuousClock.now
            var problem: String?
            do {
                try withStatementTimeout(db, seconds: timeoutSeconds) {
                    try execute(db, "SELECT 1 FROM \(probeSchema).%1$I LIMIT 1", [shard.name])
                }
            } catch {
                problem = firstLine(of: error)
            }
            let elapsed = ContinuousClock.now - start
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            return Probe(shard: shard, problem: problem, milliseconds: ms)
        }
    }

    /// An error's message on one line: PostgreSQL's ERROR and DETAIL, without the remote SQL.
    public static func firstLine(of error: any Error) -> String {
        "\(error)".split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("CONTEXT:") && !$0.hasPrefix("remote SQL command") && !$0.isEmpty }
            .map { $0.replacingOccurrences(of: "ERROR:  ", with: "").replacingOccurrences(of: "DETAIL:  ", with: "") }
            .joined(separator: ": ")
    }

    // MARK: helpers

    private static func withStatementTimeout<T>(_ db: PostgresConnection, seconds: Int, _ body: () throws -> T) throws -> T {
        try db.execute("SET statement_timeout = \(max(1, seconds) * 1000)")
        defer { try? db.execute("RESET statement_timeout") }
        return try body()
    }

    /// `%I` (identifier) and `%L` (literal) placeholders for `count` option pairs, numbered from `from`.
    private static func placeholders(_ count: Int, from: Int) -> String {
        (0..<count).map { "%\(from + 2 * $0)$I %\(from + 2 * $0 + 1)$L" }.joined(separator: ", ")
    }

    /// Runs DDL built by the server's `format()` from `arguments`: identifiers and literals are
    /// quoted by PostgreSQL (DDL takes no parameters), never pasted in here.
    private static func execute(_ db: PostgresConnection, _ template: String, _ arguments: [String]) throws {
        let list = arguments.indices.map { ", $\($0 + 2)::text" }.joined()
        let sql = try db.query("SELECT format($1\(list))",
                               [.text(template)] + arguments.map(PostgresParameter.text)).rows.first?[0].text ?? ""
        try db.execute(sql)
    }
}
