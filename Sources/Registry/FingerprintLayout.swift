import Foundation

/// How the `fingerprints` table is laid out: one table, or hash-partitioned on `hash` (the unit a
/// shard holds, docs/scaling.md). Either way the table keeps its name, columns and covering index
/// (on every partition), so ingest (`COPY fingerprints ...`) and lookups (`... WHERE hash = ANY($1)`)
/// are the same statements for both.
public enum FingerprintLayout: Sendable, Equatable, CustomStringConvertible {
    case unpartitioned
    case hashPartitioned(partitions: Int)

    /// Partitions made by `tracemark db init` without `--partitions` (docs/scaling.md says why).
    public static let defaultPartitions = 16
    /// Hash partitioning needs a modulus of at least 2 to partition anything; past 1024, planning a
    /// lookup over every partition costs more than the lookup.
    public static let partitionRange = 2...1024

    public var description: String {
        switch self {
        case .unpartitioned: return "unpartitioned"
        case let .hashPartitioned(n): return "hash-partitioned on hash into \(n) partitions"
        }
    }

    /// The layout of the registry's `fingerprints` table.
    public static func current(_ db: PostgresConnection) throws -> FingerprintLayout {
        let row = try db.query("""
            SELECT p.partstrat::text, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)
            FROM pg_class c LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid
            WHERE c.oid = to_regclass('fingerprints')
            """).rows
        guard let first = row.first else { throw RegistryError.decoding("the fingerprints table is missing") }
        guard first[0].text == "h" else { return .unpartitioned }
        return .hashPartitioned(partitions: Int(first[1].int ?? 0))
    }

    public enum PartitionOutcome: Sendable, Equatable {
        /// The table already had this many partitions; nothing changed.
        case unchanged
        /// The table was converted; `rows` fingerprint rows were copied into the partitions.
        case partitioned(rows: Int)
    }

    /// Arbitrary constant naming the layout lock (two `db init` at once: the second waits, then
    /// finds the table partitioned).
    private static let lockKey: Int64 = 0x7472_6163_656D_6B03

    /// Makes `fingerprints` hash-partitioned into `partitions`, in one transaction: a new
    /// partitioned table takes the rows and then the name, so readers see the old table or the
    /// new one, never a part. Ingest and lookups wait for it (the old table is locked exclusively
    /// while its rows are copied). A table already partitioned the same way is left alone; one
    /// partitioned another way is an error (repartitioning is a dump and restore).
    public static func partition(_ db: PostgresConnection, into partitions: Int) throws -> PartitionOutcome {
        guard partitionRange.contains(partitions) else {
            throw RegistryError.layout("the partition count must be between \(partitionRange.lowerBound) and \(partitionRange.upperBound), not \(partitions)")
        }
        let outcome = try db.transaction { () -> PartitionOutcome in
            try db.query("SELECT pg_advisory_xact_lock($1)", [.int64(lockKey)])
            switch try current(db) {
            case .hashPartitioned(partitions):
                return .unchanged
            case let .hashPartitioned(other):
                throw RegistryError.layout("the fingerprints table is already hash-partitioned into \(other) partitions, not \(partitions); nothing was changed")
            case .unpartitioned:
                break
            }
            try db.execute("""
                LOCK TABLE fingerprints IN ACCESS EXCLUSIVE MODE;
                CREATE TABLE fingerprints_partitioned (LIKE fingerprints) PARTITION BY HASH (hash);
                """)
            for remainder in 0..<partitions {
                // Names are made here from integers, never from input.
                try db.execute("""
                    CREATE TABLE fingerprints_p\(remainder) PARTITION OF fingerprints_partitioned
                        FOR VALUES WITH (MODULUS \(partitions), REMAINDER \(remainder))
                    """)
            }
            // Rows first, index after: one sorted build per partition beats row-by-row inserts.
            let rows = try db.query("SELECT count(*) FROM fingerprints").rows.first?[0].int ?? 0
            try db.execute("""
                INSERT INTO fingerprints_partitioned SELECT hash, track_id, frame FROM fingerprints;
                DROP TABLE fingerprints;
                ALTER TABLE fingerprints_partitioned RENAME TO fingerprints;
                CREATE INDEX fingerprints_hash ON fingerprints (hash) INCLUDE (track_id, frame);
                """)
            return .partitioned(rows: Int(rows))
        }
        // Index-only scans need the visibility map of the new pages (as after an ingest).
        if outcome != .unchanged { try db.execute("VACUUM (ANALYZE) fingerprints") }
        return outcome
    }
}
