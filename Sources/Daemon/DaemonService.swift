import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Registry
import ServiceLifecycle
import UnixSignals

/// `tracemark serve`: the HTTP API on a Unix socket, run until SIGTERM or SIGINT.
///
/// Start: open the registry (starting the embedded PostgreSQL when no URL is configured, and
/// migrating), replace a stale socket, bind, restrict the socket to 0660. Stop: stop accepting,
/// let in-flight requests finish, close the connection pool, then leave the embedded
/// PostgreSQL (stopped if this daemon was its last user).
public enum DaemonService {
    /// Runs until a shutdown signal (or cancellation of the calling task). `onReady` is called
    /// once the socket accepts connections.
    public static func run(configuration: DaemonConfiguration, logger: Logger,
                           shutdownSignals: [UnixSignal] = [.sigterm, .sigint],
                           onReady: @escaping @Sendable (String) async -> Void = { _ in }) async throws {
        let socketPath = configuration.resolvedSocketPath
        do {
            try KeyStore(dataDirectory: configuration.dataDirectory).checkPermissions()
        } catch {
            throw DaemonError.configuration("\(error)")
        }
        // Check the socket before starting a database: a second daemon must not disturb the first.
        try SocketFile.prepare(socketPath)
        let registry: Registry
        do {
            registry = try Registry(databaseURL: configuration.databaseURL, dataDirectory: configuration.dataDirectory)
        } catch {
            throw DaemonError.configuration("cannot open the registry: \(error)")
        }
        defer { registry.close() }
        if let problem = registry.historyWriterProblem {
            logger.warning("history appended without its role", metadata: [
                "problem": "\(problem)", "fix": "tracemark doctor; docs/operations.md (An external database)"])
        }
        let pool = ConnectionPool(connectionString: registry.connectionString, capacity: configuration.poolSize)
        defer { pool.close() }
        let threads = NIOThreadPool(numberOfThreads: configuration.poolSize)
        threads.start()
        defer { threads.shutdownGracefully { _ in } }

        let metrics = DaemonMetrics(pool: pool)
        let router = Router(context: DaemonContext.self)
        Routes(configuration: configuration, pool: pool, threads: threads, metrics: metrics,
               catalogSize: CatalogSizeCache()).add(to: router)
        let application = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ContinueHandler()])),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "tracemark/\(TracemarkVersion.string)"),
            onServerRunning: { _ in
                do {
                    try SocketFile.restrict(socketPath)
                } catch {
                    logger.critical("\(error)")
                }
                logger.info("listening", metadata: ["socket": "\(socketPath)", "database": "\(registry.embedded == nil ? "external" : "embedded")"])
                await onReady(socketPath)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: shutdownSignals,
                                                      logger: logger))
        do {
            try await group.run()
        } catch {
            unlink(socketPath)
            throw error
        }
        unlink(socketPath)
        logger.info("stopped")
    }
}

extension DaemonService {
    /// Every route the daemon serves, as `docs/openapi.yaml` writes the paths.
    public static var routePaths: [String] { Routes.paths }
}
