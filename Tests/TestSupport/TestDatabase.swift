import Foundation
import Registry

/// One embedded PostgreSQL cluster per test process, started on first use in a temporary
/// directory and stopped at exit; each test gets a database of its own in it.
public enum TestDatabase {
    private static let cluster: Result<EmbeddedCluster, TestSetupError> = {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tracemark-test-\(UUID().uuidString.prefix(8))").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            let cluster = EmbeddedCluster(dataDirectory: directory)
            try cluster.start()
            clusterForExit = cluster
            atexit {
                try? TestDatabase.clusterForExit?.stop()
                if let dir = TestDatabase.clusterForExit?.dataDirectory { try? FileManager.default.removeItem(atPath: dir) }
            }
            return .success(cluster)
        } catch {
            return .failure(TestSetupError(message: "\(error)"))
        }
    }()

    nonisolated(unsafe) static var clusterForExit: EmbeddedCluster?

    /// A new, empty, migrated database; returns its connection string.
    public static func create() throws -> String {
        let cluster = try cluster.get()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try PostgresConnection(connectionString: cluster.connectionString(database: "postgres")).execute("CREATE DATABASE \(name)")
        let url = cluster.connectionString(database: name)
        try Migrator.bundled().migrate(PostgresConnection(connectionString: url))
        return url
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}
