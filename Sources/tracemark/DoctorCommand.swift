import ArgumentParser
import Audio
import Daemon
import Fingerprint
import Foundation
import Registry
import Spectral
import Watermark

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the installation, data directory, database, keys and daemon, with a fix for each problem.",
        discussion: """
            Runs every check and prints one line each: ok, warn (works, but worth a look) or FAIL, \
            with the command or change that fixes it. Migrations are reported, not applied; an \
            embedded database that is not running is started for the check and stopped again. \
            Exits 1 when a check fails.

            Examples:
              tracemark doctor
              tracemark doctor --data-dir /srv/tracemark --json
            """)

    @OptionGroup var registry: RegistryOptions

    @Option(help: ArgumentHelp("The daemon's socket (default: $TRACEMARK_SOCKET, else <data-dir>/run/tracemark.sock).", valueName: "path"))
    var socket: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("The daemon's configuration file (default: $TRACEMARK_CONFIG, ./config/tracemark.yaml, /etc/tracemark/tracemark.yaml).", valueName: "file"))
    var configFile: String?

    @Flag(help: "Print the checks as a JSON array of {check, status, detail, fix}.")
    var json = false

    struct Check: Encodable {
        enum Status: String, Encodable { case ok, warn, fail }
        let check: String
        let status: Status
        let detail: String
        let fix: String?

        static func ok(_ check: String, _ detail: String) -> Check { Check(check: check, status: .ok, detail: detail, fix: nil) }
        static func warn(_ check: String, _ detail: String, fix: String) -> Check { Check(check: check, status: .warn, detail: detail, fix: fix) }
        static func fail(_ check: String, _ detail: String, fix: String) -> Check { Check(check: check, status: .fail, detail: detail, fix: fix) }
    }

    func run() async throws {
        let directory = registry.resolvedDataDirectory
        var checks: [Check] = []
        do {
            _ = try await DaemonConfiguration.load(file: configFile)
            checks.append(.ok("configuration", configFile ?? ProcessInfo.processInfo.environment["TRACEMARK_CONFIG"]
                ?? DaemonConfiguration.defaultFiles.first { FileManager.default.fileExists(atPath: $0) } ?? "no file; built-in defaults"))
        } catch {
            checks.append(.fail("configuration", "\(error)", fix: "correct the file; config/tracemark.yaml documents every key"))
        }
        let samplerate = AudioLibraries.samplerate.components(separatedBy: " (c)")[0]
        checks.append(.ok("libraries", [AudioLibraries.sndfile, samplerate, FFTLibrary.version,
                                        CryptoLibrary.version, PostgresLibrary.version].joined(separator: ", ")))
        checks.append(dataDirectoryCheck(directory))
        checks += databaseChecks(directory)
        checks.append(keysCheck(directory))
        checks.append(await daemonCheck())

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(checks), as: UTF8.self))
        } else {
            for check in checks {
                let label = check.status == .fail ? "FAIL" : check.status.rawValue
                print("\(label.padding(toLength: 5, withPad: " ", startingAt: 0)) \(check.check.padding(toLength: 15, withPad: " ", startingAt: 0)) \(check.detail)")
                if let fix = check.fix { print("      \(String(repeating: " ", count: 15)) fix: \(fix)") }
            }
        }
        if checks.contains(where: { $0.status == .fail }) { throw ExitCode.failure }
    }

    func dataDirectoryCheck(_ directory: String) -> Check {
        var status = stat()
        guard stat(directory, &status) == 0 else {
            return .warn("data directory", "\(directory) does not exist yet", fix: "it is created by the first `tracemark ingest`, `serve` or `keys init`; or pass --data-dir")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            return .fail("data directory", "\(directory) is not a directory", fix: "pass --data-dir with a directory, or set TRACEMARK_HOME")
        }
        let mode = status.st_mode & 0o777
        let detail = String(format: "%@ (owner uid %d, mode %03o)", directory, status.st_uid, mode)
        guard access(directory, W_OK | X_OK) == 0 else {
            return .fail("data directory", detail + ": not writable by uid \(getuid())", fix: "run as the directory's owner, or `chown -R $(id -u) \(directory)`")
        }
        if mode & 0o002 != 0 {
            return .fail("data directory", detail + ": writable by everyone", fix: "chmod o-w \(directory)")
        }
        return .ok("data directory", detail)
    }

    /// Reachable, migrated, fingerprints current. Does not migrate: a pending migration is reported.
    func databaseChecks(_ directory: String) -> [Check] {
        var cluster: EmbeddedCluster?
        defer { try? cluster?.stop() }
        let connectionString: String
        if let url = registry.resolvedDatabaseURL, !url.isEmpty {
            connectionString = url
        } else {
            do { _ = try EmbeddedCluster.binDirectory() } catch {
                return [.fail("database", "embedded PostgreSQL: \(error)", fix: "tools/setup installs PostgreSQL; or pass --database-url")]
            }
            let embedded = EmbeddedCluster(dataDirectory: directory)
            guard FileManager.default.fileExists(atPath: embedded.clusterDirectory) else {
                return [.warn("database", "no embedded database under \(directory) yet",
                              fix: "the first `tracemark ingest` or `tracemark serve` creates it; or pass --database-url")]
            }
            do { try embedded.start() } catch {
                return [.fail("database", "the embedded PostgreSQL under \(directory) does not start: \(error)",
                              fix: "read the cluster's log under \(directory)/postgres; or pass --database-url")]
            }
            cluster = embedded
            connectionString = embedded.connectionString
        }
        let place = cluster.map { "embedded, \($0.clusterDirectory)" } ?? "external"
        let db: PostgresConnection
        do { db = try PostgresConnection(connectionString: connectionString) } catch {
            return [.fail("database", "\(place): \(error)", fix: "check the URL, that the server runs and that this user may connect")]
        }
        var checks: [Check] = []
        do {
            let status = try Migrator.bundled().status(db)
            if status.pending.isEmpty {
                checks.append(.ok("database", "\(place), schema at version \(status.applied.last?.version ?? 0)"))
            } else {
                checks.append(.fail("database", "\(place): \(status.pending.count) migration\(status.pending.count == 1 ? "" : "s") pending (\(status.pending.map(\.name).joined(separator: ", ")))",
                                    fix: "tracemark db migrate (every command that opens the database also does this)"))
                return checks
            }
            if let problem = try HistoryWriter.problem(db) {
                let user = try db.query("SELECT current_user").rows.first?[0].text ?? "<this user>"
                checks.append(.warn("history role", "\(problem): policy versions, verifications and the ledger are appended as \(user), guarded by triggers only",
                                    fix: "as a PostgreSQL superuser: CREATE ROLE \(HistoryWriter.role) NOLOGIN; GRANT \(HistoryWriter.role) TO \(user); "
                                        + "then `tracemark db migrate` or a restart of the daemon grants the role the rest (docs/operations.md)"))
            } else {
                checks.append(.ok("history role", "policy versions, verifications and the ledger are appended as \(HistoryWriter.role) (SELECT and INSERT only)"))
            }
            let version = FingerprintParameters.current.version
            let stale = try Catalog(db).staleTrackCount(version: version)
            let size = try Catalog(db).size()
            if stale == 0 {
                checks.append(.ok("fingerprints", "version \(version), \(size.tracks) tracks, \(String(format: "%.2f", size.hours)) h"))
            } else {
                checks.append(.fail("fingerprints", "\(stale) of \(size.tracks) tracks were fingerprinted with another version than \(version)",
                                    fix: "run `tracemark ingest` on their files again (`tracemark db status` counts them)"))
            }
            // Only registries with shards get this line: a lookup needs every shard.
            let probes = try Shards.check(db, timeoutSeconds: 5)
            let down = probes.filter { !$0.isUp }
            if !down.isEmpty {
                checks.append(.fail("shards", down.map { "\($0.shard.name) down (\($0.problem ?? ""))" }.joined(separator: "; ") + "; matches get 503 until it is back",
                                    fix: "start the shard's PostgreSQL server or restore the network to it; `tracemark db shards check` probes again (docs/operations.md)"))
            } else if !probes.isEmpty {
                checks.append(.ok("shards", probes.map { "\($0.shard.name) up" }.joined(separator: ", ")))
            }
        } catch {
            checks.append(.fail("database", "\(place): \(error)", fix: "check that this user may read the tracemark tables"))
        }
        return checks
    }

    func keysCheck(_ directory: String) -> Check {
        let store = KeyStore(dataDirectory: directory)
        guard store.exists else {
            return .warn("keys", "no watermark keys in \(store.directory): matching works, watermarks and remixes through the daemon do not",
                         fix: "tracemark keys init --auditor-out /media/usb/auditor.pem (keep that file off this host)")
        }
        do {
            try store.checkPermissions()
            let keys = try store.currentKeys()
            return .ok("keys", "signing \(keys.signing.id.hex), mark \(keys.mark.id.hex), auditor \(keys.auditor.id.hex); private files 0600")
        } catch {
            return .fail("keys", "\(error)", fix: "chmod 600 the files named; `tracemark serve` refuses to start until then")
        }
    }

    func daemonCheck() async -> Check {
        let path = registry.socketPath(socket)
        var status = stat()
        guard stat(path, &status) == 0 else {
            return .warn("daemon", "no socket at \(path): no daemon is running", fix: "tracemark serve (or start the systemd unit in config/)")
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            return .fail("daemon", "\(path) is not a socket", fix: "remove it or choose another --socket")
        }
        let mode = status.st_mode & 0o777
        let client = DaemonClient(socketPath: path)
        guard client.isAnswering, let reply = try? await client.send(.GET, "/v1/health"), reply.status == 200 else {
            return .fail("daemon", "\(path) exists but no daemon answers (left by one that crashed?)",
                         fix: "tracemark serve (it replaces a stale socket), or check its log")
        }
        let detail = String(format: "%@ (mode %03o) answers: ", path, mode) + reply.text
        guard mode == 0o660 else {
            return .fail("daemon", detail, fix: "the daemon sets 0660 on start: restart it, or chmod 660 \(path)")
        }
        return .ok("daemon", detail)
    }
}
