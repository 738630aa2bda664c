import Fingerprint
import Foundation
import TestSupport
import Testing
@testable import Registry

@Suite struct MigrationTests {
    @Test func migrationsAreRecordedAndIdempotent() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let migrator = try Migrator.bundled()
        #expect(try migrator.migrate(db).isEmpty) // create() already applied them
        let status = try migrator.status(db)
        #expect(status.pending.isEmpty)
        #expect(status.applied.map(\.version) == migrator.migrations.map(\.version))
        #expect(status.applied.first?.name == "0001_catalog")
        let tables = try db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").rows.compactMap { $0[0].text }
        #expect(tables == ["fingerprints", "policies", "policy_versions", "rights_holders", "schema_migrations", "shards", "tracks", "verifications", "watermark_ledger"])
    }

    @Test func failingMigrationLeavesNothingBehind() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let broken = Migrator(migrations: [
            .init(version: 900, name: "0900_half", sql: "CREATE TABLE half_done (x int); SELECT no_such_function();"),
        ])
        #expect(throws: RegistryError.self) { try broken.migrate(db) }
        #expect(try db.query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'").rows.isEmpty)
        #expect(try db.query("SELECT 1 FROM schema_migrations WHERE version = 900").rows.isEmpty)
    }
}

@Suite struct CatalogTests {
    func track(_ byte: UInt8, path: String = "/masters/a.flac") -> NewTrack {
        NewTrack(sourcePath: path, contentSHA256: [UInt8](repeating: byte, count: 32), title: "A", artist: "B",
                 album: nil, isrc: "ZZTMK2600001", duration: 12.5, sampleRate: 44100, channels: 2)
    }

    func landmarks(_ count: Int) -> [Landmark] {
        (0..<count).map { Landmark(hash: LandmarkHash(value: UInt32($0 * 7919 % (1 << 23))), frame: Int32($0)) }
    }

    @Test func storesTrackWithAllHashesThenSkipsDuplicate() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let catalog = Catalog(db)
        guard case let .added(id) = try catalog.store(track(1), landmarks: landmarks(500), version: 1) else {
            Issue.record("first store was not an add"); return
        }
        #expect(try catalog.store(track(1, path: "/elsewhere/copy.flac"), landmarks: landmarks(500), version: 1) == .duplicate(id))
        #expect(try db.query("SELECT count(*) FROM fingerprints").rows[0][0].int == 500)
        #expect(try catalog.size() == CatalogSize(tracks: 1, hours: 12.5 / 3600, hashes: 500))
        let stored = try #require(try catalog.tracks(ids: [id])[id])
        #expect(stored.sourcePath == "/masters/a.flac")
        #expect(stored.isrc == "ZZTMK2600001")
        #expect(stored.hashCount == 500)
        #expect(stored.contentSHA256 == String(repeating: "01", count: 32))
    }

    @Test func hitsPairStoredFramesWithTheProbesThatReachedThem() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let catalog = Catalog(db)
        guard case let .added(id) = try catalog.store(track(2), landmarks: landmarks(100), version: 1) else { return }
        // Probes: stored hashes 10..<20, each probed under two transforms, plus an unknown hash.
        var probes: [Probe] = []
        for i in 10..<20 {
            for transform in UInt8(0)..<2 {
                probes.append(Probe(hash: LandmarkHash(value: UInt32(i * 7919 % (1 << 23))), landmark: Int32(i - 10),
                                    pitchIndex: transform, scaleIndex: 0))
            }
        }
        probes.append(Probe(hash: LandmarkHash(value: UInt32(1 << 22 | 12345)), landmark: 10, pitchIndex: 0, scaleIndex: 0))
        let landmarks = (0...10).map { QueryLandmark(time: Float($0), pitch: 30) }
        let hits = try catalog.hits(for: Query(landmarks: landmarks, probes: probes, frameCount: 20))
        #expect(hits.count == 20)
        #expect(hits.allSatisfy { hit in
            let probe = probes[Int(hit.probe)]
            return hit.trackID == id && probe.hash.value == UInt32(Int(hit.masterFrame) * 7919 % (1 << 23))
                && hit.masterFrame == probe.landmark + 10
        })
    }

    @Test func staleFingerprintsAreReplacedWhole() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let catalog = Catalog(db)
        let old = track(4)
        guard case let .added(id) = try catalog.store(old, landmarks: landmarks(80), version: 1) else { return }
        #expect(try catalog.stored(contentSHA256: old.contentSHA256)?.version == 1)
        #expect(try catalog.staleTrackCount(version: 2) == 1)
        try catalog.replaceFingerprints(trackID: id, landmarks: landmarks(30), version: 2)
        #expect(try catalog.stored(contentSHA256: old.contentSHA256)?.version == 2)
        #expect(try catalog.staleTrackCount(version: 2) == 0)
        #expect(try db.query("SELECT count(*) FROM fingerprints WHERE track_id = $1", [.int32(id)]).rows[0][0].int == 30)
        #expect(try catalog.tracks(ids: [id])[id]?.hashCount == 30)
    }

    @Test func invalidTrackIsRolledBackWhole() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        var bad = track(3)
        bad.isrc = "not an isrc" // violates the CHECK constraint
        #expect(throws: RegistryError.self) { try Catalog(db).store(bad, landmarks: landmarks(50), version: 1) }
        #expect(try db.query("SELECT count(*) FROM tracks").rows[0][0].int == 0)
        #expect(try db.query("SELECT count(*) FROM fingerprints").rows[0][0].int == 0)
    }

    @Test func binaryParametersRoundTrip() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let row = try db.query("SELECT $1::int4, $2::int8, $3::float8, $4::text, $5::bytea, $6::int4[] = ARRAY[1,-2,3], $7::text IS NULL, $8::text",
                               [.int32(-7), .int64(1 << 40), .float64(2.5), .text("zoë"), .bytea([0, 255, 7]),
                                .int32Array([1, -2, 3]), .null, .text("")]).rows[0]
        #expect(row == [.int(-7), .int(1 << 40), .double(2.5), .text("zoë"), .bytes([0, 255, 7]), .bool(true), .bool(true), .text("")])
    }

    @Test func unreachableServerIsAConnectionError() {
        #expect { try PostgresConnection(connectionString: "host=/nonexistent port=5432 connect_timeout=2") } throws: { error in
            (error as? RegistryError)?.isConnectionLoss == true
        }
    }
}
