import Foundation

/// Where the registry's database is: a configured server, or the embedded cluster under the
/// data directory. Opening it migrates the schema.
public final class Registry: @unchecked Sendable {
    public let connectionString: String
    public let embedded: EmbeddedCluster?
    /// Why the history is not appended through its role (`HistoryWriter`), or nil when it is.
    public private(set) var historyWriterProblem: String?

    /// `databaseURL` nil or empty means the embedded cluster under `dataDirectory`.
    public init(databaseURL: String?, dataDirectory: String) throws {
        if let url = databaseURL, !url.isEmpty {
            connectionString = url
            embedded = nil
        } else {
            let cluster = EmbeddedCluster(dataDirectory: dataDirectory)
            try cluster.start()
            connectionString = cluster.connectionString
            embedded = cluster
        }
        do {
            let db = try connect()
            try Migrator.bundled().migrate(db)
            historyWriterProblem = try HistoryWriter.prepare(db)
        } catch {
            close()
            throw error
        }
    }

    /// A new connection (each worker or pooled slot owns one).
    public func connect() throws -> PostgresConnection {
        try PostgresConnection(connectionString: connectionString)
    }

    /// Stops the embedded cluster if this was its last user.
    public func close() {
        try? embedded?.stop()
    }
}
