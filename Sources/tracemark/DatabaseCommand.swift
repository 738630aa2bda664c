import ArgumentParser
import Fingerprint
import Foundation
import Registry

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database schema and state.",
        subcommands: [Migrate.self, Status.self]
    )

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
}
