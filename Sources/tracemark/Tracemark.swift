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
        subcommands: [IngestCommand.self, ServeCommand.self, MatchCommand.self, VerifyCommand.self, RightsCommand.self, DatabaseCommand.self, RemixCommand.self, StylesCommand.self]
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

    /// Opens (and migrates) the registry; reports failures as a clean error.
    func open() throws -> Registry {
        do {
            return try Registry(databaseURL: resolvedDatabaseURL, dataDirectory: resolvedDataDirectory)
        } catch {
            throw ValidationFailure("\(error)")
        }
    }
}

/// An error printed as it is, without a usage banner.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
