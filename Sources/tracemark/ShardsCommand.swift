import ArgumentParser
import Foundation
import Registry

/// `tracemark db shards ...`: PostgreSQL servers holding partitions of the fingerprint table.
struct ShardsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Add shards, see where partitions live, move partitions, check shards.",
        discussion: """
            A shard is a PostgreSQL database that holds partitions of the fingerprint table \
            (made by `tracemark db init --partitions N`) as postgres_fdw foreign tables of the \
            registry's database, the coordinator. Tracks, rights and the ledger stay on the \
            coordinator; the daemon's queries do not change. See docs/scaling.md.

            Examples:
              tracemark db shards add 'postgresql://tracemark@db2.internal/shard' --name db2
              tracemark db shards move fingerprints_p3 db2
              tracemark db shards list
              tracemark db shards check
              tracemark db shards remove db2
            """,
        subcommands: [Add.self, List.self, Move.self, Check.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a PostgreSQL database as a shard and prepare it.",
            discussion: """
                Connects to URL, refuses a database that is itself a registry, creates there an \
                empty table with the covering index for every partition, then registers it on the \
                coordinator in one transaction: a postgres_fdw server named NAME (with \
                async_capable, so lookups reach every shard at once, and connect_timeout, so a \
                shard that is down fails queries fast), a user mapping for the current database \
                user with the URL's user and password, and a read through it. URL must work both \
                from this host and from the coordinator's PostgreSQL server. Nothing moves yet: \
                see `tracemark db shards move`.

                Examples:
                  tracemark db shards add 'postgresql:///tracemark?host=/srv/shard1'
                  tracemark db shards add 'postgresql://tracemark:secret@db2.internal:5432/shard' --name db2
                """)
        @Argument(help: ArgumentHelp("The shard's PostgreSQL connection URL (URI or key=value form).", valueName: "url"))
        var url: String
        @Option(help: ArgumentHelp("The shard's name: lower-case letters, digits and _ (default shard1, shard2, ...).", valueName: "name"))
        var name: String?
        @Option(name: .customLong("connect-timeout"),
                help: ArgumentHelp("Seconds a connection to the shard may take before queries needing it fail, unless URL sets connect_timeout.", valueName: "seconds"))
        var connectTimeout = Shards.defaultConnectTimeout
        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            guard connectTimeout >= 1 else { throw ValidationError("--connect-timeout must be at least 1 second, not \(connectTimeout)") }
        }

        func run() throws {
            try registry.withDatabase { db in
                let shard = try Shards.add(db, url: url, name: name, connectTimeout: connectTimeout)
                print("\(shard.name): added (\(shard.url)); move partitions to it with `tracemark db shards move PARTITION \(shard.name)`")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the shards and where every partition lives, with row counts.",
            discussion: """
                Rows are counted where each partition lives (a shard's through postgres_fdw), so \
                on a large catalog this reads every partition; a shard that does not answer \
                within --timeout shows as unreachable.

                Example: tracemark db shards list
                """)
        @Option(help: ArgumentHelp("Seconds each count may take.", valueName: "seconds"))
        var timeout = 30
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try registry.withDatabase { db in
                let shards = try Shards.list(db)
                let placements = try Shards.placements(db)
                print("shards: \(shards.isEmpty ? "none (add one with `tracemark db shards add URL`)" : String(shards.count))")
                let width = max(5, shards.map(\.name.count).max() ?? 0)
                for shard in shards {
                    let held = placements.filter { $0.shard == shard.name }.count
                    print("  \(shard.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(held) partition\(held == 1 ? "" : "s")  \(shard.url)")
                }
                guard !placements.isEmpty else {
                    print("partitions: none (the fingerprint table is unpartitioned; `tracemark db init --partitions N`)")
                    return
                }
                print("partitions: \(placements.count)")
                let nameWidth = placements.map(\.name.count).max() ?? 0
                for placement in placements {
                    let rows: String
                    do { rows = "\(try Shards.rowCount(db, of: placement, timeoutSeconds: timeout)) rows" } catch {
                        rows = "unreachable (\(Shards.firstLine(of: error)))"
                    }
                    print("  \(placement.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(placement.location.padding(toLength: width, withPad: " ", startingAt: 0))  \(rows)")
                }
            }
        }
    }

    struct Move: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move one partition to a shard, or back to the coordinator with `local`.",
            discussion: """
                In one coordinator transaction: ingest waits (lookups go on) while the partition's \
                rows are copied to the target and checked (count and sums on both sides), then the \
                old partition is detached and dropped and the new one attached in its place; \
                lookups wait only for that switch and see the partition before or after, never \
                both or neither. On any error nothing changes. Ingest pauses for about as long as \
                the copy takes: move partitions one at a time at a quiet hour.

                Examples:
                  tracemark db shards move fingerprints_p3 shard1
                  tracemark db shards move p3 local
                """)
        @Argument(help: ArgumentHelp("The partition: fingerprints_p3, p3 or 3 (see `tracemark db shards list`).", valueName: "partition"))
        var partition: String
        @Argument(help: ArgumentHelp("A shard's name, or `local` for the coordinator.", valueName: "shard"))
        var shard: String
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try registry.withDatabase { db in
                let start = ContinuousClock.now
                let outcome = try Shards.move(db, partition: partition, to: shard)
                if let rows = outcome.rows {
                    let elapsed = ContinuousClock.now - start
                    print("\(outcome.partition): moved from \(outcome.from) to \(outcome.to) (\(rows) rows, \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))))")
                } else {
                    print("\(outcome.partition): already on \(outcome.to); nothing changed")
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unregister a shard that holds no partition.",
            discussion: """
                Drops the coordinator's postgres_fdw server NAME (with its user mapping) and the \
                shard's registration, in one transaction. Refuses while any partition lives on \
                the shard: move those first. The shard's database is not contacted and keeps its \
                tables; drop the database yourself when it is no longer needed.

                Example:
                  tracemark db shards move p3 local
                  tracemark db shards remove db2
                """)
        @Argument(help: ArgumentHelp("The shard's name (see `tracemark db shards list`).", valueName: "name"))
        var name: String
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            try registry.withDatabase { db in try Shards.remove(db, name: name) }
            print("\(name): removed")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read from every shard through the coordinator; exit 1 when one is down.",
            discussion: """
                Each shard is read the way lookups reach it (the coordinator's postgres_fdw \
                server), within --timeout seconds for the read and the shard's connect_timeout \
                for the connection. Prints `up` or `down` with the reason per shard.

                Example: tracemark db shards check --timeout 2
                """)
        @Option(help: ArgumentHelp("Seconds each shard's read may take.", valueName: "seconds"))
        var timeout = 5
        @OptionGroup var registry: RegistryOptions

        func validate() throws {
            guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second, not \(timeout)") }
        }

        func run() throws {
            let probes = try registry.withDatabase { db in try Shards.check(db, timeoutSeconds: timeout) }
            guard !probes.isEmpty else {
                print("no shards (add one with `tracemark db shards add URL`)")
                return
            }
            let width = probes.map(\.shard.name.count).max() ?? 0
            for probe in probes {
                let name = probe.shard.name.padding(toLength: width, withPad: " ", startingAt: 0)
                if let problem = probe.problem {
                    print("\(name)  down  \(problem)")
                } else {
                    print("\(name)  up    \(String(format: "%.0f", probe.milliseconds)) ms")
                }
            }
            let down = probes.filter { !$0.isUp }.map(\.shard.name)
            if !down.isEmpty {
                throw ValidationFailure("\(down.count) of \(probes.count) shards down: \(down.joined(separator: ", "))")
            }
        }
    }
}
