import Fingerprint
import Foundation

/// What is known about a master before it is stored.
public struct NewTrack: Sendable {
    public var sourcePath: String
    public var contentSHA256: [UInt8]
    public var title: String?
    public var artist: String?
    public var album: String?
    public var isrc: String?
    public var duration: Double
    public var sampleRate: Int
    public var channels: Int

    public init(sourcePath: String, contentSHA256: [UInt8], title: String? = nil, artist: String? = nil,
                album: String? = nil, isrc: String? = nil, duration: Double, sampleRate: Int, channels: Int) {
        self.sourcePath = sourcePath
        self.contentSHA256 = contentSHA256
        self.title = title
        self.artist = artist
        self.album = album
        self.isrc = isrc
        self.duration = duration
        self.sampleRate = sampleRate
        self.channels = channels
    }
}

/// A stored master.
public struct Track: Sendable, Equatable, Codable {
    public let id: Int32
    public let sourcePath: String
    public let contentSHA256: String
    public let title: String?
    public let artist: String?
    public let album: String?
    public let isrc: String?
    public let duration: Double
    public let sampleRate: Int
    public let channels: Int
    public let fingerprintVersion: Int
    public let hashCount: Int
    public let ingestedAt: Date
}

public struct CatalogSize: Sendable, Equatable, Codable {
    public let tracks: Int
    public let hours: Double
    public let hashes: Int
}

/// The catalog tables: tracks and their landmark hashes.
public struct Catalog: Sendable {
    public enum StoreOutcome: Sendable, Equatable {
        case added(Int32)
        /// A track with the same content hash was already stored.
        case duplicate(Int32)
    }

    private let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    /// The id of a stored track with this content hash, if any.
    public func trackID(contentSHA256: [UInt8]) throws -> Int32? {
        let rows = try db.query("SELECT id FROM tracks WHERE content_sha256 = $1", [.bytea(contentSHA256)])
        return rows.rows.first?[0].int.map { Int32($0) }
    }

    /// The id and fingerprint version of a stored track with this content hash, if any.
    public func stored(contentSHA256: [UInt8]) throws -> (id: Int32, version: Int32)? {
        let rows = try db.query("SELECT id, fingerprint_version FROM tracks WHERE content_sha256 = $1", [.bytea(contentSHA256)])
        guard let row = rows.rows.first, let id = row[0].int, let version = row[1].int else { return nil }
        return (Int32(id), Int32(version))
    }

    /// Replaces a stored track's hashes with ones of another fingerprint version, in one
    /// transaction: a reader sees the old hashes or the new, never a mixture or none.
    public func replaceFingerprints(trackID: Int32, landmarks: [Landmark], version: Int32) throws {
        try db.transaction {
            _ = try db.query("DELETE FROM fingerprints WHERE track_id = $1", [.int32(trackID)])
            try copyFingerprints(landmarks, trackID: trackID)
            _ = try db.query("UPDATE tracks SET fingerprint_version = $2, hash_count = $3 WHERE id = $1",
                           [.int32(trackID), .int32(version), .int32(Int32(landmarks.count))])
        }
    }

    /// Rows per `INSERT` on a sharded registry: bounds the two arrays for very long masters.
    static let insertRows = 50_000

    /// Writes a track's rows inside the caller's transaction. One server: `COPY` (binary), the
    /// fastest path. With partitions on shards: `INSERT ... SELECT FROM unnest(...)`, because
    /// PostgreSQL 15's postgres_fdw sends a `COPY` routed to a foreign partition as one remote
    /// `INSERT` per row, while it batches a routed `INSERT` by the server's `batch_size`
    /// (docs/scaling.md). Either statement is correct for either layout; a move that commits
    /// between the check and the write changes only the speed. Returns whether it used `INSERT`.
    @discardableResult
    private func copyFingerprints(_ landmarks: [Landmark], trackID id: Int32) throws -> Bool {
        guard try Shards.holdPartitions(db) else {
            try copyFingerprintsLocally(landmarks, trackID: id)
            return false
        }
        var start = 0
        while start < landmarks.count {
            let chunk = landmarks[start..<min(start + Self.insertRows, landmarks.count)]
            _ = try db.query("""
                INSERT INTO fingerprints (hash, track_id, frame)
                SELECT h, $1, f FROM unnest($2::int4[], $3::int4[]) AS u(h, f)
                """, [.int32(id), .int32Array(chunk.map { Int32(bitPattern: $0.hash.value) }), .int32Array(chunk.map(\.frame))])
            start = chunk.endIndex
        }
        return true
    }

    /// postgres_fdw commits each shard's part of a transaction just before the coordinator's, one
    /// shard after another, without two-phase commit: when one shard's commit fails, shards that
    /// had already committed keep rows of a track that was not stored. They are removed here,
    /// each in its own transaction, through the hash index (the track's own hashes); a shard that
    /// does not answer keeps them (docs/scaling.md).
    private func removeStrayRows(trackID id: Int32, landmarks: [Landmark]) {
        guard (try? db.query("SELECT 1 FROM tracks WHERE id = $1", [.int32(id)]).rows.isEmpty) == true,
              let placements = try? Shards.placements(db) else { return }
        let hashes = Array(Set(landmarks.map { Int32(bitPattern: $0.hash.value) }))
        for placement in placements where placement.shard != nil {
            _ = try? db.query("DELETE FROM \(placement.name) WHERE hash = ANY($1) AND track_id = $2",
                              [.int32Array(hashes), .int32(id)])
        }
    }

    private func copyFingerprintsLocally(_ landmarks: [Landmark], trackID id: Int32) throws {
        var copy = BinaryCopy()
        copy.reserve(rows: landmarks.count, bytesPerRow: 26)
        for landmark in landmarks {
            copy.row(Int32(bitPattern: landmark.hash.value), id, landmark.frame)
        }
        try db.copyIn("COPY fingerprints (hash, track_id, frame) FROM STDIN (FORMAT binary)", data: copy.finished())
    }

    /// Stores a track and all its hashes in one transaction: whole or not at all. `alsoStore`
    /// runs inside the same transaction once the track has its id (its rights, at ingest).
    public func store(_ track: NewTrack, landmarks: [Landmark], version: Int32,
                      alsoStore: ((Int32) throws -> Void)? = nil) throws -> StoreOutcome {
        var writtenToShards: Int32?
        do {
            return try storeInTransaction(track, landmarks: landmarks, version: version, alsoStore: alsoStore) {
                writtenToShards = $0
            }
        } catch {
            if let id = writtenToShards { removeStrayRows(trackID: id, landmarks: landmarks) }
            throw error
        }
    }

    private func storeInTransaction(_ track: NewTrack, landmarks: [Landmark], version: Int32,
                                    alsoStore: ((Int32) throws -> Void)?, wroteToShards: (Int32) -> Void) throws -> StoreOutcome {
        try db.transaction {
            let inserted = try db.query("""
                INSERT INTO tracks (source_path, content_sha256, title, artist, album, isrc, duration_s,
                                    sample_rate, channels, fingerprint_version, hash_count)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (content_sha256) DO NOTHING
                RETURNING id
                """, [
                    .text(track.sourcePath), .bytea(track.contentSHA256),
                    track.title.map(PostgresParameter.text) ?? .null,
                    track.artist.map(PostgresParameter.text) ?? .null,
                    track.album.map(PostgresParameter.text) ?? .null,
                    track.isrc.map(PostgresParameter.text) ?? .null,
                    .float64(track.duration), .int32(Int32(track.sampleRate)), .int32(Int32(track.channels)),
                    .int32(version), .int32(Int32(landmarks.count)),
                ])
            guard let id = inserted.rows.first?[0].int.map({ Int32($0) }) else {
                let existing = try trackID(contentSHA256: track.contentSHA256)
                return .duplicate(existing ?? 0)
            }
            if try copyFingerprints(landmarks, trackID: id) { wroteToShards(id) }
            try alsoStore?(id)
            return .added(id)
        }
    }

    /// Every stored landmark sharing a hash with one of the query's probes, as hits for the matcher.
    public func hits(for query: Query) throws -> [Hit] {
        var probesByHash: [UInt32: [Int32]] = [:]
        for (i, probe) in query.probes.enumerated() { probesByHash[probe.hash.value, default: []].append(Int32(i)) }
        guard !probesByHash.isEmpty else { return [] }
        let hashes = probesByHash.keys.map { Int32(bitPattern: $0) }
        let rows = try db.queryInt32("SELECT hash, track_id, frame FROM fingerprints WHERE hash = ANY($1)",
                                     [.int32Array(hashes)], columns: 3)
        var hits: [Hit] = []
        hits.reserveCapacity(rows.count / 3)
        for r in stride(from: 0, to: rows.count, by: 3) {
            for probe in probesByHash[UInt32(bitPattern: rows[r])] ?? [] {
                hits.append(Hit(trackID: rows[r + 1], masterFrame: rows[r + 2], probe: probe))
            }
        }
        return hits
    }

    /// The catalog's extent in analysis frames, for the matcher's no-match rule.
    public func extent(secondsPerFrame: Double) throws -> CatalogExtent {
        let size = try size()
        return CatalogExtent(tracks: size.tracks, frames: Int((size.hours * 3600 / secondsPerFrame).rounded()))
    }

    private static let trackColumns = """
        id, source_path, content_sha256, title, artist, album, isrc, duration_s, sample_rate, channels,
        fingerprint_version, hash_count, ingested_at
        """

    public func tracks(ids: [Int32]) throws -> [Int32: Track] {
        guard !ids.isEmpty else { return [:] }
        let rows = try db.query("SELECT \(Self.trackColumns) FROM tracks WHERE id = ANY($1)", [.int32Array(ids)])
        var result: [Int32: Track] = [:]
        for row in rows.rows {
            let track = try Self.track(row)
            result[track.id] = track
        }
        return result
    }

    /// The track a user names: by id, ISRC or content SHA-256 (hex).
    public func track(named name: String) throws -> Track? {
        let isrc = name.replacingOccurrences(of: "-", with: "").uppercased()
        let sha = name.count == 64 ? Self.bytes(hex: name) : nil
        let rows = try db.query("""
            SELECT \(Self.trackColumns) FROM tracks WHERE id = $1 OR isrc = $2 OR content_sha256 = $3 ORDER BY id LIMIT 1
            """, [.int32(Int32(name) ?? -1), .text(isrc), sha.map(PostgresParameter.bytea) ?? .null])
        return try rows.rows.first.map(Self.track)
    }

    static func bytes(hex: String) -> [UInt8]? {
        var out: [UInt8] = []
        var chars = hex.makeIterator()
        while let a = chars.next(), let b = chars.next() {
            guard let byte = UInt8(String([a, b]), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }

    /// One page of the catalog in id order: tracks with an id above `after`.
    public func tracks(after: Int32, limit: Int) throws -> [Track] {
        let rows = try db.query("SELECT \(Self.trackColumns) FROM tracks WHERE id > $1 ORDER BY id LIMIT $2",
                                [.int32(after), .int32(Int32(clamping: limit))])
        return try rows.rows.map(Self.track)
    }

    public func size() throws -> CatalogSize {
        let row = try db.query("SELECT count(*), coalesce(sum(duration_s), 0), coalesce(sum(hash_count), 0)::bigint FROM tracks").rows[0]
        return CatalogSize(tracks: Int(row[0].int ?? 0), hours: (row[1].double ?? 0) / 3600, hashes: Int(row[2].int ?? 0))
    }

    /// Tracks stored with a fingerprint version other than `version` (they need re-ingesting).
    public func staleTrackCount(version: Int32) throws -> Int {
        Int(try db.query("SELECT count(*) FROM tracks WHERE fingerprint_version <> $1", [.int32(version)]).rows[0][0].int ?? 0)
    }

    /// On-disk bytes of the fingerprint table and its index (of all its local partitions, when
    /// partitioned). `pg_partition_tree` lists nothing for a table that is not partitioned.
    public func fingerprintBytes() throws -> Int {
        Int(try db.query("""
            SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('fingerprints')),
                            pg_total_relation_size('fingerprints'))::bigint
            """).rows[0][0].int ?? 0)
    }

    private static func track(_ row: [PostgresValue]) throws -> Track {
        guard let id = row[0].int, let path = row[1].text, let sha = row[2].bytes else {
            throw RegistryError.decoding("incomplete tracks row")
        }
        return Track(id: Int32(id), sourcePath: path, contentSHA256: sha.map { String(format: "%02x", $0) }.joined(),
                     title: row[3].text, artist: row[4].text, album: row[5].text, isrc: row[6].text,
                     duration: row[7].double ?? 0, sampleRate: Int(row[8].int ?? 0), channels: Int(row[9].int ?? 0),
                     fingerprintVersion: Int(row[10].int ?? 0), hashCount: Int(row[11].int ?? 0),
                     ingestedAt: row[12].date ?? Date(timeIntervalSince1970: 0))
    }
}
