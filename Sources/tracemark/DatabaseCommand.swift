import ArgumentParser
import Daemon
import Fingerprint
import Foundation
import Registry

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database schema and state; backup and restore.",
        subcommands: [Init.self, Migrate.self, Status.self, Backup.self, Restore.self, ShardsCommand.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the registry with its fingerprint table hash-partitioned on the landmark hash.",
            discussion: """
                Partitions are the unit that shards hold (docs/scaling.md); the count is fixed here. \
                A registry made without `db init` (by any other command) keeps one unpartitioned \
                table, as before. Run on such a registry, `db init` converts it in one transaction: \
                every fingerprint row is copied into the partitions, and ingest and lookups wait \
                until it is done (about as long as ingesting the hashes again; plan a quiet hour). \
                On a registry already partitioned into the same count it does nothing.

                Examples:
                  tracemark db init --data-dir /srv/tracemark
                  tracemark db init --partitions 32 --database-url postgresql:///tracemark
                """)
        @Option(help: ArgumentHelp("Hash partitions of the fingerprint table, \(FingerprintLayout.partitionRange.lowerBound)...\(FingerprintLayout.partitionRange.upperBound).", valueName: "n"))
        var partitions = FingerprintLayout.defaultPartitions
        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            guard FingerprintLayout.partitionRange.contains(partitions) else {
                throw ValidationError("--partitions must be between \(FingerprintLayout.partitionRange.lowerBound) and \(FingerprintLayout.partitionRange.upperBound), not \(partitions)")
            }
        }

        func run() throws {
            try registry.withDatabase { db in
                switch try FingerprintLayout.partition(db, into: partitions) {
                case .unchanged:
                    print("fingerprints: already \(FingerprintLayout.hashPartitioned(partitions: partitions)); nothing changed")
                case let .partitioned(rows):
                    print("fingerprints: \(FingerprintLayout.hashPartitioned(partitions: partitions)) (\(rows) rows copied)")
                }
            }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending schema migrations (every command also does this on start).",
            discussion: "Example: tracemark db migrate --data-dir /srv/tracemark")
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let registry = try self.registry.open()
            defer { registry.close() }
            let status = try Migrator.bundled().status(registry.connect())
            print("schema at version \(status.applied.last?.version ?? 0) (\(status.applied.count) migrations applied, \(status.pending.count) pending)")
            if let problem = registry.historyWriterProblem { print("history role: not used (\(problem)); see docs/operations.md") }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show applied migrations, catalog size and whether stored fingerprints are current.",
            discussion: "Example: tracemark db status")
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let registry = try self.registry.open()
            defer { registry.close() }
            let db = try registry.connect()
            let status = try Migrator.bundled().status(db)
            print("database: \(registry.embedded.map { "embedded, \($0.clusterDirectory)" } ?? "external")")
            for migration in status.applied {
                print("  applied  \(migration.name)  \(ISO8601DateFormatter().string(from: migration.at))")
            }
            for migration in status.pending { print("  pending  \(migration.name)") }
            if let problem = registry.historyWriterProblem {
                print("history role: not used (\(problem)); history is guarded by triggers only, see docs/operations.md")
            } else {
                print("history role: \(HistoryWriter.role) appends policy versions, verifications and ledger rows (SELECT and INSERT only)")
            }
            switch try FingerprintLayout.current(db) {
            case .unpartitioned:
                print("fingerprints: unpartitioned (`tracemark db init --partitions N` converts it)")
            case let layout:
                print("fingerprints: \(layout)")
                let shards = try Shards.list(db)
                if !shards.isEmpty {
                    let remote = try Shards.placements(db).filter { $0.shard != nil }.count
                    print("shards: \(shards.map(\.name).joined(separator: ", ")); \(remote) partitions on shards (`tracemark db shards list`)")
                }
            }
            let catalog = Catalog(db)
            let size = try catalog.size()
            print(String(format: "catalog: %d tracks, %.2f hours, %d hashes, %.1f MB of fingerprints",
                         size.tracks, size.hours, size.hashes, Double(try catalog.fingerprintBytes()) / 1e6))
            let version = FingerprintParameters.current.version
            let stale = try catalog.staleTrackCount(version: version)
            if stale == 0 {
                print("fingerprint version \(version): current")
            } else {
                print("fingerprint version \(version): \(stale) tracks are stale (stored with another version); run `tracemark ingest` on their files again to re-fingerprint them")
            }
        }
    }

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the registry's database to a file (pg_dump, custom format).",
            discussion: """
                The catalog and its fingerprints, rights and their history, verifications and the \
                watermark ledger, as one consistent snapshot: the daemon may keep running. FILE is \
                written whole or not at all, with mode 0600; an existing FILE is replaced only once \
                the new archive is complete. Keys are files, not rows: back up <data-dir>/keys apart \
                (docs/operations.md).

                Examples:
                  tracemark db backup /srv/backup/tracemark-$(date +%F).dump
                  tracemark db backup registry.dump --database-url postgresql:///tracemark
                """)
        @Argument(help: ArgumentHelp("The archive to write.", valueName: "file"))
        var file: String
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let registry = try self.registry.open()
            defer { registry.close() }
            do { try RegistryBackup.backup(connectionString: registry.connectionString, to: file) } catch {
                throw ValidationFailure("\(error)")
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.doubleValue ?? 0
            print(String(format: "%@: backup written (%.1f MB)", file, bytes / 1e6))
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup made by `tracemark db backup` into an empty registry, then migrate it.",
            discussion: """
                Restores in one transaction: on any error nothing changes. The embedded registry is \
                restored beside the current one and takes its place once complete. A registry that \
                holds tracks, policy versions, verifications or ledger rows is replaced only with \
                --force, and never while a daemon answers on the socket ($TRACEMARK_SOCKET or the \
                default) or another command uses it. With --database-url the database must not have \
                Tracemark's tables yet (a new one from createdb). Migrations newer than the backup \
                are applied afterwards. Keys are not in the archive: put the backed-up keys directory \
                at <data-dir>/keys before `tracemark audit verify` or `tracemark serve`.

                Examples:
                  tracemark db restore /srv/backup/tracemark-2026-11-26.dump --data-dir /srv/tracemark
                  tracemark db restore registry.dump --force
                """)
        @Argument(help: ArgumentHelp("An archive written by `tracemark db backup`.", valueName: "file"))
        var file: String
        @Flag(help: "Replace an embedded registry that holds data.")
        var force = false
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            // An idle daemon holds no connection, so the database check alone would let it through.
            let socket = registry.socketPath()
            if registry.resolvedDatabaseURL?.isEmpty ?? true, DaemonClient(socketPath: socket).isAnswering {
                throw ValidationFailure("a daemon answers on \(socket): stop it first (systemctl stop tracemark); nothing was changed")
            }
            let contents: RegistryBackup.Contents
            do {
                contents = try RegistryBackup.restore(from: file, databaseURL: registry.resolvedDatabaseURL,
                                                      dataDirectory: registry.resolvedDataDirectory, force: force)
            } catch {
                throw ValidationFailure("\(error)")
            }
            print("restored \(file): \(contents)")
        }
    }
}
