import Fingerprint
import Foundation
import TestSupport
import Testing
@testable import Registry

/// The hash-partitioned fingerprint table against the unpartitioned one, on real PostgreSQL.
@Suite struct FingerprintLayoutTests {
    /// 12 tracks of 400 landmarks over 1500 hashes: many hashes stored by several tracks.
    func storeCatalog(_ catalog: Catalog, tracks: ClosedRange<UInt8> = 1...12) throws {
        var rng = SeededRandom(seed: 7)
        for byte in tracks {
            let landmarks = (0..<400).map { frame in
                Landmark(hash: LandmarkHash(value: UInt32.random(in: 0..<1500, using: &rng) * 2749), frame: Int32(frame))
            }
            let track = NewTrack(sourcePath: "/masters/\(byte).flac", contentSHA256: [UInt8](repeating: byte, count: 32),
                                 duration: 30, sampleRate: 44100, channels: 2)
            guard case .added = try catalog.store(track, landmarks: landmarks, version: 1) else {
                Issue.record("track \(byte) was not added"); return
            }
        }
    }

    /// A query probing 300 of the hashes (and some never stored), each under two transforms.
    func query() -> Query {
        var rng = SeededRandom(seed: 11)
        var probes: [Probe] = []
        for i in 0..<300 {
            let hash = LandmarkHash(value: UInt32.random(in: 0..<1700, using: &rng) * 2749)
            for transform in UInt8(0)..<2 { probes.append(Probe(hash: hash, landmark: Int32(i), pitchIndex: transform, scaleIndex: 0)) }
        }
        return Query(landmarks: (0..<300).map { QueryLandmark(time: Float($0), pitch: 30) }, probes: probes, frameCount: 300)
    }

    func sorted(_ hits: [Hit]) -> [Hit] {
        hits.sorted { ($0.trackID, $0.masterFrame, $0.probe) < ($1.trackID, $1.masterFrame, $1.probe) }
    }

    @Test func aPartitionedRegistryGivesTheSameHitsAsAnUnpartitionedOne() throws {
        let plain = try PostgresConnection(connectionString: TestDatabase.create())
        let partitioned = try PostgresConnection(connectionString: TestDatabase.create())
        #expect(try FingerprintLayout.partition(partitioned, into: 8) == .partitioned(rows: 0))
        try storeCatalog(Catalog(plain))
        try storeCatalog(Catalog(partitioned))

        #expect(try FingerprintLayout.current(plain) == .unpartitioned)
        #expect(try FingerprintLayout.current(partitioned) == .hashPartitioned(partitions: 8))
        let expected = sorted(try Catalog(plain).hits(for: query()))
        #expect(expected.count > 1000)
        #expect(sorted(try Catalog(partitioned).hits(for: query())) == expected)
        #expect(try Catalog(partitioned).size() == Catalog(plain).size())
        #expect(try Catalog(partitioned).fingerprintBytes() > 0)
        #expect(try Catalog(plain).fingerprintBytes() > 0)
        // The rows are spread over the partitions, each with the covering index.
        let spread = try partitioned.query("""
            SELECT count(*) FROM pg_partition_tree('fingerprints') t
            WHERE t.isleaf AND EXISTS (SELECT 1 FROM pg_indexes i WHERE i.tablename = t.relid::text AND i.indexdef LIKE '%(hash) INCLUDE (track_id, frame)')
            """).rows[0][0].int
        #expect(spread == 8)
        let nonEmpty = try partitioned.query("SELECT count(DISTINCT tableoid) FROM fingerprints").rows[0][0].int
        #expect(nonEmpty == 8)
    }

    @Test func convertingAStoredCatalogKeepsEveryRowAndHit() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let catalog = Catalog(db)
        try storeCatalog(catalog, tracks: 1...6)
        let before = sorted(try catalog.hits(for: query()))
        #expect(try FingerprintLayout.partition(db, into: 5) == .partitioned(rows: 6 * 400))
        #expect(try FingerprintLayout.current(db) == .hashPartitioned(partitions: 5))
        #expect(sorted(try catalog.hits(for: query())) == before)
        // Ingest and re-fingerprinting go on through the same statements.
        try storeCatalog(catalog, tracks: 7...8)
        #expect(try db.query("SELECT count(*) FROM fingerprints").rows[0][0].int == 8 * 400)
        try catalog.replaceFingerprints(trackID: 1, landmarks: [Landmark(hash: LandmarkHash(value: 5), frame: 1)], version: 2)
        #expect(try db.query("SELECT count(*) FROM fingerprints WHERE track_id = 1").rows[0][0].int == 1)
        // Same count again: nothing to do.
        #expect(try FingerprintLayout.partition(db, into: 5) == .unchanged)
    }

    @Test func badPartitionCountsAreRefusedAndChangeNothing() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        for count in [-1, 0, 1, 1025] {
            #expect(throws: RegistryError.self) { try FingerprintLayout.partition(db, into: count) }
        }
        #expect(try FingerprintLayout.current(db) == .unpartitioned)
        _ = try FingerprintLayout.partition(db, into: 4)
        do {
            _ = try FingerprintLayout.partition(db, into: 6)
            Issue.record("repartitioning 4 into 6 was accepted")
        } catch {
            #expect("\(error)".contains("already hash-partitioned into 4 partitions, not 6"), "\(error)")
        }
        #expect(try FingerprintLayout.current(db) == .hashPartitioned(partitions: 4))
        #expect(try db.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'fingerprints_p%'").rows[0][0].int == 4)
    }
}
