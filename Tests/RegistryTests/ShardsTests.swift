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
