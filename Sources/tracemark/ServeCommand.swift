import ArgumentParser
import Daemon
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: the HTTP API on a Unix socket.",
        discussion: """
            Answers match queries, catalog and health requests over HTTP/1.1 on a Unix socket \
            (default <data-dir>/run/tracemark.sock, mode 0660), so any HTTP client is a client. \
            Runs in the foreground until SIGTERM or SIGINT, then finishes the requests in flight, \
            stops, and stops the embedded PostgreSQL if it started it. The API is described in \
            docs/openapi.yaml.

            Settings come from, highest first: these flags, TRACEMARK_* environment variables, \
            the YAML file (--config, $TRACEMARK_CONFIG, else ./config/tracemark.yaml or \
            /etc/tracemark/tracemark.yaml when present), then defaults. config/tracemark.yaml \
            documents every key.

            Examples:
              tracemark serve
              tracemark serve --data-dir /srv/tracemark --log-level warning
              curl --unix-socket var/run/tracemark.sock --data-binary @clip.ogg http://localhost/v1/match
            """)

    @Option(help: ArgumentHelp("YAML configuration file.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Unix socket to listen on (key: socket; default <data-dir>/run/tracemark.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("log-level"),
            help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (key: log.level; default info).", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"),
            help: ArgumentHelp("logfmt, json or text: one line per event, one per request (key: log.format; default logfmt).", valueName: "format"))
    var logFormat: String?

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        var flags: [String: String] = [:]
        // The raw flags only: the environment and the file are the configuration's to read.
        flags["home"] = registry.dataDirectory
        flags["database.url"] = registry.databaseURL
        flags["socket"] = socket
        flags["log.level"] = logLevel
        flags["log.format"] = logFormat
        let configuration: DaemonConfiguration
        do {
            configuration = try await DaemonConfiguration.load(file: config, flags: flags)
        } catch {
            throw ValidationFailure("\(error)")
        }
        LoggingSystem.bootstrap { label in
            guard configuration.logFormat == .text else {
                return StructuredLogHandler(label: label, format: configuration.logFormat, level: configuration.logLevel)
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        // Files and the socket the daemon creates are for its owner and group only.
        umask(0o007)
        do {
            try await DaemonService.run(configuration: configuration, logger: Logger(label: "tracemark"))
        } catch let error as DaemonError {
            throw ValidationFailure("\(error)")
        }
    }
}
