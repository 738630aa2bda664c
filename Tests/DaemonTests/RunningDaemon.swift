import Audio
import Daemon
import Foundation
import Logging
import Registry
import TestSupport

/// A daemon served in this process on a socket in a temporary directory, against a test
/// database; stopped by cancelling its task.
final class RunningDaemon: Sendable {
    let client: DaemonClient
    let databaseURL: String
    let directory: String
    private let task: Task<Void, any Error>

    static func start(databaseURL: String, _ configure: (inout DaemonConfiguration) -> Void = { _ in }) async throws -> RunningDaemon {
        let directory = "/tmp/tmd-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory
        configuration.databaseURL = databaseURL
        configuration.socketPath = directory + "/d.sock"
        configure(&configuration)
        var logger = Logger(label: "test-daemon")
        logger.logLevel = .critical // cancelling the task at the end logs errors
        let (ready, readyContinuation) = AsyncStream.makeStream(of: String.self)
        let task = Task { [configuration, logger] in
            defer { readyContinuation.finish() }
            try await DaemonService.run(configuration: configuration, logger: logger, shutdownSignals: []) { path in
                readyContinuation.yield(path)
            }
        }
        var iterator = ready.makeAsyncIterator()
        guard let socket = await iterator.next() else {
            _ = try await task.value
            throw TestSetupError(message: "the daemon stopped before it was ready")
        }
        return RunningDaemon(client: DaemonClient(socketPath: socket), databaseURL: databaseURL, directory: directory, task: task)
    }

    private init(client: DaemonClient, databaseURL: String, directory: String, task: Task<Void, any Error>) {
        self.client = client
        self.databaseURL = databaseURL
        self.directory = directory
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Generated masters stored the way ingest stores them, and excerpts of them as WAV bytes.
enum TestCatalog {
    static let rate = 22050

    /// Stores one generated track per seed; returns their ids in seed order.
    static func store(seeds: [UInt64], seconds: Double, databaseURL: String) throws -> [Int32] {
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
    static func wav(_ samples: [Float]) throws -> [UInt8] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tm-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioWriter.write(samples, sampleRate: rate, channels: 1, to: path)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func excerpt(seed: UInt64, masterSeconds: Double, start: Double, seconds: Double) throws -> [UInt8] {
        let track = GeneratedMusic.track(seed: seed, seconds: masterSeconds, sampleRate: rate)
        return try wav(GeneratedMusic.excerpt(track, sampleRate: rate, start: start, seconds: seconds))
    }
}
