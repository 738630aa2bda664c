import Foundation
import Registry

/// PostgreSQL servers to use as shards: throwaway embedded clusters of their own, apart from
/// the test database's, so that postgres_fdw reaches them as it would another machine.
public final class TestShardServer: @unchecked Sendable {
    public let cluster: EmbeddedCluster

    /// Two servers shared by every test of the process (each test takes databases of its own).
    public static func shared() throws -> (TestShardServer, TestShardServer) { try sharedServers.get() }

    private static let sharedServers: Result<(TestShardServer, TestShardServer), TestSetupError> = {
        do { return .success((try TestShardServer(), try TestShardServer())) } catch {
            return .failure(TestSetupError(message: "\(error)"))
        }
    }()

    nonisolated(unsafe) private static var started: [TestShardServer] = []
    private static let startedLock = NSLock()

    /// A new server, stopped and removed when the process exits. Start one of its own for a
    /// test that stops it.
    public init() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tracemark-shard-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        cluster = EmbeddedCluster(dataDirectory: directory)
        try cluster.start()
        Self.startedLock.withLock {
            if Self.started.isEmpty {
                atexit {
                    for server in TestShardServer.startedLock.withLock({ TestShardServer.started }) {
                        try? server.cluster.stop()
                        try? FileManager.default.removeItem(atPath: server.cluster.dataDirectory)
                    }
                }
            }
            Self.started.append(self)
        }
    }

    /// A new empty database on this server; its URL (the form `tracemark db shards add` takes).
    public func createDatabase() throws -> String {
        let name = "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try PostgresConnection(connectionString: cluster.connectionString(database: "postgres")).execute("CREATE DATABASE \(name)")
        return cluster.connectionString(database: name)
    }

    /// Stops the server (as a crash or maintenance would); `start` brings it back.
    public func stop() throws { try cluster.stop() }
    public func start() throws { try cluster.start() }
}
