import Audio
import Daemon
import Foundation
import Registry

/// Generated masters stored the way ingest stores them, and excerpts of them as WAV bytes.
public enum TestCatalog {
    public static let rate = 22050

    /// Stores one generated track per seed; returns their ids in seed order.
    public static func store(seeds: [UInt64], seconds: Double, databaseURL: String) throws -> [Int32] {
        let db = try PostgresConnection(connectionString: databaseURL)
        let analysis = Analysis()
        return try seeds.map { seed in
            let samples = GeneratedMusic.track(seed: seed, seconds: seconds, sampleRate: rate)
            let bytes = try wav(samples)
            let audio = try analysis.decoder.decode(bytes: bytes, source: "seed \(seed)")
            let track = NewTrack(sourcePath: "/masters/seed-\(seed).wav", contentSHA256: ContentDigest.sha256(bytes),
                                 title: "Song \(seed)", artist: "Generated", duration: seconds, sampleRate: rate, channels: 1)
            guard case let .added(id) = try Catalog(db).store(track, landmarks: analysis.landmarks(of: audio),
                                                               version: analysis.parameters.version) else {
                throw TestSetupError(message: "seed \(seed) stored twice")
            }
            return id
        }
    }

    /// A mono 16-bit WAV file of `samples`, as bytes.
    public static func wav(_ samples: [Float]) throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tm-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioWriter.write(samples, sampleRate: rate, channels: 1, to: path)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public static func excerpt(seed: UInt64, masterSeconds: Double, start: Double, seconds: Double) throws -> [UInt8] {
        let track = GeneratedMusic.track(seed: seed, seconds: masterSeconds, sampleRate: rate)
        return try wav(GeneratedMusic.excerpt(track, sampleRate: rate, start: start, seconds: seconds))
    }
}
