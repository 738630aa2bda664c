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

    /// A new database, not migrated, owned by a new login role that is neither superuser nor
    /// allowed to create roles (an external server's ordinary user); its connection string as
    /// that role, and the role's name.
    public static func createUnprivileged() throws -> (url: String, user: String) {
        let cluster = try cluster.get()
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresConnection(connectionString: cluster.connectionString(database: "postgres"))
        try admin.execute("CREATE ROLE u_\(suffix) LOGIN NOSUPERUSER NOCREATEROLE")
        try admin.execute("CREATE DATABASE t_\(suffix) OWNER u_\(suffix)")
        // libpq takes the last value of a repeated keyword.
        return (cluster.connectionString(database: "t_\(suffix)") + " user=u_\(suffix)", "u_\(suffix)")
    }

    /// A connection as the cluster's superuser to one of its databases.
    public static func superuser(database: String = "postgres") throws -> PostgresConnection {
        try PostgresConnection(connectionString: cluster.get().connectionString(database: database))
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}
