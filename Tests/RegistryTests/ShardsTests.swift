import Fingerprint
import Foundation
import TestSupport
import Testing
@testable import Registry

/// Shards at the Registry level: what is kept of a URL, and what a shard's failure does to the
/// coordinator's connections.
@Suite struct ShardsTests {
    @Test func passwordsStayInTheUserMappingOnly() throws {
        let (server, _) = try TestShardServer.shared()
        let db = try PostgresConnection(connectionString: try TestDatabase.create())
        _ = try FingerprintLayout.partition(db, into: 2)
        // Trust authentication ignores the password; it is stored all the same.
        let shard = try Shards.add(db, url: try server.createDatabase() + " password='s3cr et'", name: "keyed")
        #expect(!shard.url.contains("s3cr") && shard.url.contains("dbname="), "\(shard.url)")
        #expect(try Shards.list(db) == [shard])
        let mapping = try db.query("SELECT array_to_string(umoptions, ',') FROM pg_user_mappings WHERE srvname = 'keyed'").rows
        #expect(mapping.first?[0].text?.contains("password=s3cr et") == true, "\(mapping)")
        let foreign = try db.query("SELECT array_to_string(srvoptions, ',') FROM pg_foreign_server WHERE srvname = 'keyed'").rows
        let options = foreign.first?[0].text ?? ""
        #expect(options.contains("async_capable=true") && options.contains("connect_timeout=10") && !options.contains("password"), "\(options)")

        for (url, shown) in [
            ("postgresql://alice:pw@db2.internal:5432/shard?sslmode=require", "postgresql://alice@db2.internal:5432/shard?sslmode=require"),
            ("postgresql:///shard?host=/srv/s&password=pw&user=t", "postgresql:///shard?host=/srv/s&user=t"),
            ("postgresql:///shard?password=pw", "postgresql:///shard"),
            ("host=/srv/s password='a b' dbname=shard", "host=/srv/s dbname=shard"),
        ] {
            #expect(ShardConnection.withoutPassword(url) == shown, "\(url)")
        }
    }

    @Test func aShardThatIsDownFailsFastNamingItAndLeavesThePoolAlone() throws {
        let server = try TestShardServer()
        let url = try TestDatabase.create()
        let db = try PostgresConnection(connectionString: url)
        _ = try FingerprintLayout.partition(db, into: 2)
        _ = try Shards.add(db, url: try server.createDatabase(), name: "north")
        try db.execute("INSERT INTO fingerprints SELECT g, 1, g FROM generate_series(1, 1000) g")
        #expect(try Shards.move(db, partition: "p0", to: "north").rows ?? 0 > 0)

        let pool = ConnectionPool(connectionString: url, capacity: 2)
        let count = { (c: PostgresConnection) in try c.query("SELECT count(*) FROM fingerprints").rows[0][0].int }
        #expect(try pool.withConnection(retryOnStaleConnection: true, count) == 1000)
        #expect(pool.usage == .init(inUse: 0, idle: 1, capacity: 2))

        try server.stop()
        let start = ContinuousClock.now
        do {
            _ = try pool.withConnection(retryOnStaleConnection: true, count)
            Issue.record("a query needing a stopped shard succeeded")
        } catch let error as RegistryError {
            #expect(error.unavailableShard == "north", "\(error)")
            #expect(error.isConnectionLoss)
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        // The coordinator's connection was fine: kept, not retried.
        #expect(pool.usage == .init(inUse: 0, idle: 1, capacity: 2))

        try server.start()
        #expect(try pool.withConnection(retryOnStaleConnection: true, count) == 1000)
        #expect(try Shards.check(db, timeoutSeconds: 2).map(\.isUp) == [true])
    }

    @Test func partitionNamesAreReadInThreeForms() {
        #expect(Shards.parsePartition("fingerprints_p12") == 12)
        #expect(Shards.parsePartition("p3") == 3)
        #expect(Shards.parsePartition("7") == 7)
        for bad in ["", "p", "fingerprints_", "px", "-1", "p 1", "٣"] { #expect(Shards.parsePartition(bad) == nil, "\(bad)") }
    }
}

/// Ingest's write path on a sharded registry: batched `INSERT`s through postgres_fdw, the same
/// rows as one server, and still one transaction per track.
@Suite struct ShardedIngestTests {
    static func landmarks(_ count: Int, seed: UInt32) -> [Landmark] {
        (0..<count).map { i in
            Landmark(hash: LandmarkHash(value: UInt32(truncatingIfNeeded: i &* 2_654_435_761) &+ seed), frame: Int32(i / 3))
        }
    }

    static func track(_ n: UInt8) -> NewTrack {
        NewTrack(sourcePath: "/masters/\(n).flac", contentSHA256: Array(repeating: n, count: 32), duration: 60,
                 sampleRate: 44100, channels: 2)
    }

    /// (remainder, rows, sum of hash, sum of track_id, sum of frame) per partition, in order.
    static func partitionSums(_ db: PostgresConnection) throws -> [[Int64]] {
        try (0..<4).map { k in
            try db.query("SELECT \(k), count(*), coalesce(sum(hash), 0), coalesce(sum(track_id), 0), coalesce(sum(frame), 0) FROM fingerprints_p\(k)")
                .rows[0].map { $0.int ?? -1 }
        }
    }

    @Test func ingestThroughShardsGivesOneServersRowsInBatches() throws {
        let (north, south) = try TestShardServer.shared()
        let single = try PostgresConnection(connectionString: try TestDatabase.create())
        let coordinator = try PostgresConnection(connectionString: try TestDatabase.create())
        for db in [single, coordinator] { _ = try FingerprintLayout.partition(db, into: 4) }
        let northURL = try north.createDatabase()
        _ = try Shards.add(coordinator, url: northURL, name: "north")
        _ = try Shards.add(coordinator, url: try south.createDatabase(), name: "south")
        #expect(try !Shards.holdPartitions(coordinator))
        for (partition, shard) in [("p0", "north"), ("p1", "south"), ("p2", "north")] {
            _ = try Shards.move(coordinator, partition: partition, to: shard)
        }
        #expect(try Shards.holdPartitions(coordinator))
        #expect(try !Shards.holdPartitions(single))

        // Count the statements that reach the shard: one per batch, not one per row.
        let shard = try PostgresConnection(connectionString: northURL)
        try shard.execute("""
            CREATE TABLE inserts (n int NOT NULL);
            CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN INSERT INTO public.inserts VALUES (1); RETURN NULL; END $$;
            CREATE TRIGGER counted AFTER INSERT ON fingerprints_p0 FOR EACH STATEMENT EXECUTE FUNCTION count_insert();
            """)

        for (n, rows) in [(UInt8(1), 5300), (2, 120), (3, Catalog.insertRows + 7)] {
            for db in [single, coordinator] {
                #expect(try Catalog(db).store(Self.track(n), landmarks: Self.landmarks(rows, seed: UInt32(n)), version: 2) == .added(Int32(n)))
            }
        }
        let expected = try Self.partitionSums(single)
        #expect(expected.reduce(0) { $0 + $1[1] } == 5300 + 120 + Int64(Catalog.insertRows) + 7)
        #expect(try Self.partitionSums(coordinator) == expected)
        let p0Rows = expected[0][1]
        let statements = try shard.query("SELECT count(*) FROM inserts").rows[0][0].int ?? 0
        #expect(p0Rows > 10_000 && statements > 0 && statements <= p0Rows / 500, "\(statements) statements for \(p0Rows) rows")
    }

    @Test func aTrackAShardRejectsLeavesNoRowsAnywhere() throws {
        let (north, south) = try TestShardServer.shared()
        let coordinator = try PostgresConnection(connectionString: try TestDatabase.create())
        _ = try FingerprintLayout.partition(coordinator, into: 4)
        let southURL = try south.createDatabase()
        _ = try Shards.add(coordinator, url: try north.createDatabase(), name: "north")
        _ = try Shards.add(coordinator, url: southURL, name: "south")
        for (partition, shard) in [("p0", "north"), ("p1", "south"), ("p2", "north")] {
            _ = try Shards.move(coordinator, partition: partition, to: shard)
        }
        // The south shard refuses one row of the second track (as a full disk or a bug would).
        try PostgresConnection(connectionString: southURL).execute(
            "ALTER TABLE fingerprints_p1 ADD CONSTRAINT refuse CHECK (NOT (track_id = 2 AND frame >= 500))")
        let landmarks = Self.landmarks(3000, seed: 9)
        #expect(try Catalog(coordinator).store(Self.track(1), landmarks: landmarks, version: 2) == .added(1))
        #expect(throws: RegistryError.self) {
            try Catalog(coordinator).store(Self.track(2), landmarks: landmarks, version: 2)
        }
        // The north shard and the coordinator had taken the track's rows before south refused: gone.
        let perPartition = try Self.partitionSums(coordinator)
        #expect(perPartition.reduce(0) { $0 + $1[1] } == 3000)
        #expect(perPartition.allSatisfy { $0[3] == $0[1] }, "\(perPartition)")  // every row is track 1's
        #expect(try Catalog(coordinator).size().tracks == 1)

        // A shard that fails at commit, after the other shard may have committed its part (no
        // two-phase commit): the rows that shard kept are removed. The two shards commit in a
        // fixed order, so of tracks 3 and 4 one fails on the shard that commits second.
        let northURL = try Shards.list(coordinator).first { $0.name == "north" }.map(\.url) ?? ""
        for (url, table, refused) in [(northURL, "fingerprints_p0", 3), (southURL, "fingerprints_p1", 4)] {
            try PostgresConnection(connectionString: url).execute("""
                CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN IF NEW.track_id IN (3, 4) THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$;
                CREATE CONSTRAINT TRIGGER at_commit_\(refused) AFTER INSERT ON \(table)
                  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.track_id = \(refused)) EXECUTE FUNCTION refuse();
                """)
        }
        for n in [UInt8(3), 4] {
            #expect(throws: RegistryError.self) {
                try Catalog(coordinator).store(Self.track(n), landmarks: landmarks, version: 2)
            }
            let rows = try coordinator.query("SELECT count(*) FROM fingerprints WHERE track_id = \(n)").rows[0][0].int
            #expect(rows == 0, "track \(n)")
        }
        #expect(try Catalog(coordinator).size().tracks == 1)
        #expect(try coordinator.query("SELECT count(*) FROM fingerprints").rows[0][0].int == 3000)
    }
}
