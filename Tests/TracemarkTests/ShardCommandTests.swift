import Audio
import Foundation
import Registry
import TestSupport
import Testing

/// `tracemark db shards add|list|move|check` through the real executable, with shards on
/// PostgreSQL servers of their own.
@Suite struct ShardCommandTests {
    static let rate = 22050
    static let seeds: [UInt64] = [11, 22, 33]

    func count(_ url: String, _ sql: String) throws -> Int64 {
        try PostgresConnection(connectionString: url).query(sql).rows[0][0].int ?? -1
    }

    @Test func everySubcommandHasHelp() throws {
        for (command, text) in [("", "Add shards, see where partitions live"), ("add", "Register a PostgreSQL database as a shard"),
                                ("list", "where every partition lives"), ("move", "Move one partition to a shard"),
                                ("check", "Read from every shard through the coordinator"),
                                ("remove", "Unregister a shard that holds no partition")] {
            let help = try CLI.run(["db", "shards"] + (command.isEmpty ? [] : [command]) + ["--help"])
            #expect(help.status == 0 && help.stdout.contains(text), "\(command): \(help.stdout)")
        }
    }

    @Test func removeRefusesWhilePartitionsLiveThere() throws {
        let (shared, _) = try TestShardServer.shared()
        let directory = "/tmp/tshard-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let url = try TestDatabase.create()
        let options = ["--data-dir", directory + "/data", "--database-url", url]
        #expect(try CLI.run(["db", "init", "--partitions", "4"] + options).status == 0)
        #expect(try CLI.run(["db", "shards", "add", try shared.createDatabase(), "--name", "north"] + options).status == 0)
        try PostgresConnection(connectionString: url).execute("INSERT INTO fingerprints SELECT g, g % 7, g FROM generate_series(1, 2000) g")
        #expect(try CLI.run(["db", "shards", "move", "p1", "north"] + options).status == 0)
        let sums = "SELECT count(*) * 1000000 + sum(hash) FROM fingerprints"
        let before = try count(url, sums)

        for (name, message) in [("north", "the shard north holds fingerprints_p1: move it first"),
                                ("south", "there is no shard named south")] {
            let refused = try CLI.run(["db", "shards", "remove", name] + options)
            #expect(refused.status != 0 && refused.stderr.contains(message) && refused.stderr.contains("nothing was changed"),
                    "\(name): \(refused.stderr)")
        }
        #expect(try count(url, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'north'") == 1)
        #expect(try count(url, "SELECT count(*) FROM shards") == 1)
        #expect(try count(url, sums) == before)

        #expect(try CLI.run(["db", "shards", "move", "p1", "local"] + options).status == 0)
        let removed = try CLI.run(["db", "shards", "remove", "north"] + options)
        #expect(removed.status == 0 && removed.stdout.contains("north: removed"), "\(removed.stdout) \(removed.stderr)")
        #expect(try count(url, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'north'") == 0)
        #expect(try count(url, "SELECT count(*) FROM pg_user_mappings WHERE srvname = 'north'") == 0)
        #expect(try count(url, "SELECT count(*) FROM shards") == 0)
        #expect(try count(url, sums) == before)
        let list = try CLI.run(["db", "shards", "list"] + options)
        #expect(list.status == 0 && !list.stdout.contains("north"), "\(list.stdout)")
    }

    @Test func addListMoveCheckAndTheSameMatchesAsOneServer() throws {
        let (shared, _) = try TestShardServer.shared()
        let own = try TestShardServer()
        let directory = "/tmp/tshard-" + UUID().uuidString.prefix(8)
        let masters = directory + "/masters"
        try FileManager.default.createDirectory(atPath: masters, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let url = try TestDatabase.create()
        let options = ["--data-dir", directory + "/data", "--database-url", url]

        let unpartitioned = try CLI.run(["db", "shards", "add", try shared.createDatabase()] + options)
        #expect(unpartitioned.status != 0 && unpartitioned.stderr.contains("run `tracemark db init --partitions N` first"), "\(unpartitioned.stderr)")
        #expect(try CLI.run(["db", "init", "--partitions", "4"] + options).status == 0)

        let first = try shared.createDatabase()
        let added = try CLI.run(["db", "shards", "add", first] + options)
        #expect(added.status == 0 && added.stdout.contains("shard1: added"), "\(added.stdout) \(added.stderr)")
        let named = try CLI.run(["db", "shards", "add", try own.createDatabase(), "--name", "west"] + options)
        #expect(named.status == 0 && named.stdout.contains("west: added"), "\(named.stdout) \(named.stderr)")

        // Refusals change nothing.
        let refusals: [([String], String)] = [
            (["add", first], "is already the shard shard1"),
            (["add", try shared.createDatabase(), "--name", "west"], "a shard named west already exists"),
            (["add", try shared.createDatabase(), "--name", "Local"], "\"Local\" cannot name a shard"),
            (["add", "host=/tmp/no-such-server-\(UUID().uuidString.prefix(6)) dbname=x"], "does not answer"),
            (["add", "nonsense=1"], "is not a PostgreSQL connection URL"),
            (["add", url], "is a registry (it has a tracks table)"),
            (["move", "p4", "west"], "unknown partition \"p4\": the fingerprint table has fingerprints_p0 to fingerprints_p3"),
            (["move", "fingerprints_p1", "east"], "unknown shard \"east\": the shards are shard1, west, or local"),
        ]
        for (arguments, message) in refusals {
            let refused = try CLI.run(["db", "shards"] + arguments + options)
            #expect(refused.status != 0 && refused.stderr.contains(message) && refused.stderr.contains("nothing was changed"),
                    "\(arguments): \(refused.stderr)")
        }
        #expect(try count(url, "SELECT count(*) FROM shards") == 2)
        #expect(try count(url, "SELECT count(*) FROM pg_foreign_server") == 2)
        #expect(try count(url, "SELECT count(*) FROM pg_foreign_table") == 2) // the two probes

        for (partition, shard) in [("fingerprints_p0", "shard1"), ("p1", "west"), ("2", "west")] {
            let moved = try CLI.run(["db", "shards", "move", partition, shard] + options)
            #expect(moved.status == 0 && moved.stdout.contains("moved from local to \(shard) (0 rows"), "\(moved.stdout) \(moved.stderr)")
        }
        let again = try CLI.run(["db", "shards", "move", "p1", "west"] + options)
        #expect(again.status == 0 && again.stdout.contains("fingerprints_p1: already on west; nothing changed"), "\(again.stdout)")

        // Ingest through the coordinator, and the same masters on one server.
        for (i, seed) in Self.seeds.enumerated() {
            try AudioWriter.write(GeneratedMusic.track(seed: seed, seconds: 20, sampleRate: Self.rate), sampleRate: Self.rate,
                                  channels: 1, to: "\(masters)/m\(i).flac")
        }
        let single = try TestDatabase.create()
        for target in [url, single] {
            let ingest = try CLI.run(["ingest", masters, "--jobs", "1", "--database-url", target, "--data-dir", directory + "/data"])
            #expect(ingest.status == 0 && ingest.stdout.contains("added 3, skipped 0, failed 0"), "\(ingest.stdout) \(ingest.stderr)")
        }
        let rows = try count(single, "SELECT count(*) FROM fingerprints")
        #expect(rows > 1000)
        #expect(try count(url, "SELECT count(*) FROM fingerprints") == rows)

        var clips: [String] = []
        for (i, seed) in Self.seeds.enumerated() {
            let clip = "\(directory)/clip\(i).wav"
            try AudioWriter.write(GeneratedMusic.excerpt(GeneratedMusic.track(seed: seed, seconds: 20, sampleRate: Self.rate),
                                                         sampleRate: Self.rate, start: 3.3 + Double(i) * 4, seconds: 5),
                                  sampleRate: Self.rate, channels: 1, to: clip)
            clips.append(clip)
        }
        let sharded = try CLI.run(["match", "--json", "--database-url", url] + clips)
        let reference = try CLI.run(["match", "--json", "--database-url", single] + clips)
        #expect(sharded.status == 0 && reference.status == 0, "\(sharded.stderr) \(reference.stderr)")
        #expect(sharded.stdout == reference.stdout)
        for i in Self.seeds.indices { #expect(sharded.stdout.contains("/m\(i).flac"), "\(sharded.stdout)") }

        let list = try CLI.run(["db", "shards", "list"] + options)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("shards: 2"), "\(list.stdout)")
        #expect(list.stdout.range(of: #"shard1 +1 partition "#, options: .regularExpression) != nil, "\(list.stdout)")
        #expect(list.stdout.range(of: #"west +2 partitions "#, options: .regularExpression) != nil, "\(list.stdout)")
        for (remainder, location) in [(0, "shard1"), (1, "west"), (2, "west"), (3, "local")] {
            let n = try count(url, "SELECT count(*) FROM fingerprints_p\(remainder)")
            #expect(list.stdout.range(of: "fingerprints_p\(remainder) +\(location) +\(n) rows", options: .regularExpression) != nil, "\(list.stdout)")
        }

        let check = try CLI.run(["db", "shards", "check"] + options)
        #expect(check.status == 0 && check.stdout.range(of: #"shard1 +up .*\n.*west +up"#, options: .regularExpression) != nil, "\(check.stdout) \(check.stderr)")

        // A stopped shard: check says which and fails, list marks its partitions unreachable.
        try own.stop()
        let down = try CLI.run(["db", "shards", "check", "--timeout", "2"] + options)
        #expect(down.status != 0 && down.stdout.contains("west    down") && down.stdout.contains("could not connect to server \"west\"")
                && down.stderr.contains("1 of 2 shards down: west"), "\(down.stdout) \(down.stderr)")
        let partial = try CLI.run(["db", "shards", "list", "--timeout", "2"] + options)
        #expect(partial.status == 0 && partial.stdout.contains("fingerprints_p1  west    unreachable"), "\(partial.stdout) \(partial.stderr)")
        let doctor = try CLI.run(["doctor", "--json"] + options)
        let shardsCheck = try #require(try (JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [[String: Any]])?
            .first { $0["check"] as? String == "shards" }, "\(doctor.stdout)")
        #expect(doctor.status != 0 && shardsCheck["status"] as? String == "fail"
                && (shardsCheck["detail"] as? String)?.hasPrefix("west down (") == true, "\(shardsCheck)")
        let stuck = try CLI.run(["db", "shards", "move", "p2", "local"] + options)
        #expect(stuck.status != 0 && stuck.stderr.contains("the shard west does not answer"), "\(stuck.stderr)")
        try own.start()

        // Back to the coordinator, every row with it.
        let home = try CLI.run(["db", "shards", "move", "p2", "local"] + options)
        #expect(home.status == 0 && home.stdout.contains("moved from west to local"), "\(home.stdout) \(home.stderr)")
        #expect(try count(url, "SELECT count(*) FROM fingerprints") == rows)
        #expect(try count(url, "SELECT count(*) FROM pg_foreign_table") == 4) // p0, p1 and the two probes
        let after = try CLI.run(["match", "--json", "--database-url", url] + clips)
        #expect(after.stdout == reference.stdout)
    }
}
