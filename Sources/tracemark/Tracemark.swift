import ArgumentParser
import Daemon
import Foundation
import Registry

@main
struct Tracemark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracemark",
        abstract: "Content-ID and rights registry: fingerprint a catalog of masters and match audio against it.",
        discussion: """
            With no database URL, Tracemark runs its own PostgreSQL under the data directory.

            Examples:
              tracemark ingest masters/ --metadata masters/catalog.csv
              tracemark serve
              tracemark match clip.ogg --json
              tracemark db status
            """,
        version: TracemarkVersion.string,
        subcommands: [IngestCommand.self, ServeCommand.self, MatchCommand.self, VerifyCommand.self, RightsCommand.self, KeysCommand.self, WatermarkCommand.self, AuditCommand.self, DatabaseCommand.self, RemixCommand.self, StylesCommand.self, InspectCommand.self, DoctorCommand.self]
    )
}

/// Where the registry lives; shared by every command that touches the database.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"),
            help: ArgumentHelp("Data directory: embedded database, keys, socket. Default: $TRACEMARK_HOME or ./var.", valueName: "dir"))
    var dataDirectory: String?

    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("PostgreSQL connection URL; when set, no embedded database is started. Default: $TRACEMARK_DATABASE_URL.", valueName: "url"))
    var databaseURL: String?

    var resolvedDataDirectory: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["TRACEMARK_HOME"] ?? "./var"
    }

    var resolvedDatabaseURL: String? {
        databaseURL ?? ProcessInfo.processInfo.environment["TRACEMARK_DATABASE_URL"]
    }

    /// The daemon's socket: `explicit` (a --socket option), else $TRACEMARK_SOCKET, else the data directory's.
    func socketPath(_ explicit: String? = nil) -> String {
        explicit ?? ProcessInfo.processInfo.environment["TRACEMARK_SOCKET"]
            ?? DaemonConfiguration.defaultSocketPath(dataDirectory: resolvedDataDirectory)
    }

    /// Runs `body` with a connection to the opened registry, then leaves it; any failure is
    /// reported as a clean error.
    func withDatabase<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let registry = try open()
        defer { registry.close() }
        do {
            return try body(try registry.connect())
        } catch let error as ValidationFailure {
            throw error
        } catch {
            throw ValidationFailure("\(error)")
        }
    }

    /// Opens (and migrates) the registry; reports failures as a clean error.
    func open() throws -> Registry {
        do {
            return try Registry(databaseURL: resolvedDatabaseURL, dataDirectory: resolvedDataDirectory)
        } catch {
            throw ValidationFailure("\(error)")
        }
    }
}

/// How a client command reaches the daemon, and whether it should.
struct DaemonOptions: ParsableArguments {
    @Flag(help: "Open the database directly even when a daemon answers on the socket.")
    var direct = false

    @Option(help: ArgumentHelp("The daemon's socket (default: $TRACEMARK_SOCKET, else <data-dir>/run/tracemark.sock).", valueName: "path"))
    var socket: String?

    /// A client of the daemon when one answers and nothing asks for the direct path (--direct,
    /// or --database-url naming a database the daemon may not be using); nil otherwise.
    func client(_ registry: RegistryOptions) -> DaemonClient? {
        guard !direct, registry.databaseURL == nil else { return nil }
        let client = DaemonClient(socketPath: registry.socketPath(socket))
        return client.isAnswering ? client : nil
    }
}

/// The error message in a daemon's error reply, or its body as text.
func errorMessage(_ reply: DaemonClient.Reply) -> String {
    (try? JSONDecoder().decode(APIError.Body.self, from: Data(reply.body)))?.error.message ?? reply.text
}

/// An error printed as it is, without a usage banner.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
