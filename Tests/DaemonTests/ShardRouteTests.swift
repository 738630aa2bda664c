import Daemon
import Foundation
import Registry
import TestSupport
import Testing

/// The daemon on a coordinator whose fingerprint partitions live on other PostgreSQL servers
/// (postgres_fdw), against the same daemon on one server.
@Suite struct ShardRouteTests {
    static let seeds: [UInt64] = [101, 202, 303, 404]
    static let masterSeconds = 20.0

    /// Excerpts of every master at two offsets, and music that was never stored.
    static func clips() throws -> [[UInt8]] {
        var clips = try seeds.flatMap { seed in
            try [2.5, 11.0].map { try TestCatalog.excerpt(seed: seed, masterSeconds: masterSeconds, start: $0, seconds: 5) }
        }
        clips.append(try TestCatalog.excerpt(seed: 999, masterSeconds: 20, start: 3, seconds: 5))
        return clips
    }

    /// A new registry hash-partitioned into 4, with `shards` (name and server) added.
    static func coordinator(shards: [(String, TestShardServer)]) throws -> (url: String, db: PostgresConnection) {
        let url = try TestDatabase.create()
        let db = try PostgresConnection(connectionString: url)
        _ = try FingerprintLayout.partition(db, into: 4)
        for (name, server) in shards { _ = try Shards.add(db, url: try server.createDatabase(), name: name) }
        return (url, db)
    }

    func answers(_ daemon: RunningDaemon, _ clips: [[UInt8]]) async throws -> [MatchAnswer] {
        var answers: [MatchAnswer] = []
        for clip in clips {
            let reply = try await daemon.call("POST", "/v1/match?top=3", route: "/v1/match", body: clip)
            #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
            answers.append(try RunningDaemon.decoder.decode(MatchAnswer.self, from: Data(reply.body)))
        }
        return answers
    }

    /// Rows, and sums of every column, per partition: equal before and after means no row was
    /// lost, doubled or changed.
    func contents(_ db: PostgresConnection) throws -> [String: [PostgresValue]] {
        var result: [String: [PostgresValue]] = [:]
        for placement in try Shards.placements(db) {
            result[placement.name] = try db.query("SELECT count(*), sum(hash), sum(track_id), sum(frame) FROM \(placement.name)").rows[0]
        }
        return result
    }

    @Test func ingestThroughTheCoordinatorGivesTheSameAnswersAsOneServer() async throws {
        let (a, b) = try TestShardServer.shared()
        let (url, db) = try Self.coordinator(shards: [("a", a), ("b", b)])
        for (partition, shard) in [("p0", "a"), ("p1", "b"), ("p2", "a")] {
            #expect(try Shards.move(db, partition: partition, to: shard).rows == 0)
        }
        let single = try TestDatabase.create()
        // Ingest's statements: the coordinator routes rows of p0-p2 to the shards.
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        #expect(try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: single) == ids)

        let total = try db.query("SELECT count(*) FROM fingerprints").rows[0][0].int ?? -1
        #expect(total > 1000)
        #expect(try PostgresConnection(connectionString: single).query("SELECT count(*) FROM fingerprints").rows[0][0].int == total)
        let placed = try Shards.placements(db).map(\.location)
        #expect(placed == ["a", "b", "a", "local"])
        var onShards: Int64 = 0
        for remainder in 0..<3 {
            let rows = try db.query("SELECT count(*) FROM fingerprints_p\(remainder)").rows[0][0].int ?? 0
            #expect(rows > 0, "fingerprints_p\(remainder) is empty")
            onShards += rows
        }
        #expect(onShards < total)
        // The daemon's lookup reaches the shards with asynchronous foreign scans.
        let plan = try db.query("EXPLAIN SELECT hash, track_id, frame FROM fingerprints WHERE hash = ANY($1)",
                                [.int32Array([1, 2, 3])]).rows.compactMap { $0[0].text }.joined(separator: "\n")
        #expect(plan.components(separatedBy: "Async Foreign Scan").count - 1 == 3, "\(plan)")

        let clips = try Self.clips()
        let sharded = try await RunningDaemon.start(databaseURL: url)
        let expected = try await RunningDaemon.start(databaseURL: single)
        let got = try await answers(sharded, clips)
        let want = try await answers(expected, clips)
        // Health lists the shards on the coordinator only.
        let shardedHealth = try await sharded.call("GET", "/v1/health", route: "/v1/health")
        let singleHealth = try await expected.call("GET", "/v1/health", route: "/v1/health")
        #expect(shardedHealth.status == 200 && singleHealth.status == 200)
        let listed = try RunningDaemon.decoder.decode(Health.self, from: Data(shardedHealth.body)).shards ?? []
        #expect(listed.map { "\($0.name) \($0.status) \($0.error ?? "-")" } == ["a up -", "b up -"])
        #expect(try RunningDaemon.decoder.decode(Health.self, from: Data(singleHealth.body)).shards == nil)
        #expect(!String(decoding: singleHealth.body, as: UTF8.self).contains("shards"))
        await sharded.stop()
        await expected.stop()
        #expect(got == want)
        for (i, answer) in got.dropLast().enumerated() {
            #expect(answer.matches.first?.track_id == ids[i / 2], "clip \(i)")
        }
        #expect(got.last?.matches.isEmpty == true)
    }

    @Test func partitionsMovedUnderConcurrentQueriesLoseNothing() async throws {
        let (a, b) = try TestShardServer.shared()
        let (url, db) = try Self.coordinator(shards: [("a", a), ("b", b)])
        _ = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        let before = try contents(db)
        let clips = try Self.clips()
        let daemon = try await RunningDaemon.start(databaseURL: url) { $0.poolSize = 4 }
        defer { Task { await daemon.stop() } }
        let baseline = try await answers(daemon, clips)

        // Three clients query in a loop while partitions move out to the shards, between them and back, round
        // after round, until at least 12 answers came entirely within the moves; then a last
        // round leaves three on shards. The mover starts once every client has an answer and
        // runs on a thread of its own (a blocking task could hold up the clients' tasks).
        let moving = Mutexed(true)
        let answered = Mutexed(0)
        let moved = Mutexed<Result<(ContinuousClock.Instant, ContinuousClock.Instant, Int), any Error>?>(nil)
        let out = [("p0", "a"), ("p1", "b"), ("p2", "a"), ("p3", "b")]
        let back = out.map { ($0.0, Shards.local) }
        Thread {
            defer { moving.value = false }
            while answered.value < 3 { usleep(10_000) } // each client's first, or all of one's: enough
            moved.value = Result {
                let connection = try PostgresConnection(connectionString: url)
                let start = ContinuousClock.now
                let answeredBefore = answered.value
                var moves = 0
                repeat {
                    // p3 also goes from one shard to the other.
                    for (partition, shard) in out + [("p3", "a")] + back + out.prefix(3) {
                        let outcome = try Shards.move(connection, partition: partition, to: shard)
                        #expect(outcome.rows ?? 0 > 0, "\(outcome)")
                        moves += 1
                    }
                    if answered.value - answeredBefore < 15 { // 3 may have been sent before the first move
                        for (partition, _) in out.prefix(3) { _ = try Shards.move(connection, partition: partition, to: Shards.local) }
                        moves += 3
                    } else { break }
                } while ContinuousClock.now - start < .seconds(30)
                return (start, ContinuousClock.now, moves)
            }
        }.start()
        let replies = try await withThrowingTaskGroup(of: [(Int, UInt, String, ContinuousClock.Instant, ContinuousClock.Instant)].self) { group in
            for client in 0..<3 {
                group.addTask {
                    var replies: [(Int, UInt, String, ContinuousClock.Instant, ContinuousClock.Instant)] = []
                    var i = client
                    while moving.value {
                        let sent = ContinuousClock.now
                        let reply = try await daemon.client.send(.POST, "/v1/match?top=3", body: clips[i % clips.count])
                        replies.append((i % clips.count, UInt(reply.status), String(decoding: reply.body, as: UTF8.self), sent, ContinuousClock.now))
                        answered.modify { $0 += 1 }
                        i += 3
                    }
                    return replies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let (moveStart, moveEnd, moves) = try #require(moved.value).get()

        #expect(try Shards.placements(db).map(\.location) == ["a", "b", "a", "local"])
        #expect(try contents(db) == before)
        let within = replies.filter { $0.3 >= moveStart && $0.4 <= moveEnd }
        print("shard moves: \(moves) in \(moveEnd - moveStart); \(replies.count) queries, \(within.count) of them within the moves")
        #expect(within.count >= 12, "only \(within.count) of \(replies.count) queries ran within the moves")
        for (clip, status, body, _, _) in replies {
            #expect(status == 200, "clip \(clip): \(body)")
            guard status == 200 else { continue }
            #expect(try RunningDaemon.decoder.decode(MatchAnswer.self, from: Data(body.utf8)) == baseline[clip], "clip \(clip)")
        }
        #expect(try await answers(daemon, clips) == baseline)
    }

    @Test func aStoppedShardIs503NamingItAndServiceResumesWithoutRestart() async throws {
        let server = try TestShardServer()
        let (url, db) = try Self.coordinator(shards: [("east", server)])
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        _ = try Shards.move(db, partition: "p1", to: "east")
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let clip = try TestCatalog.excerpt(seed: Self.seeds[2], masterSeconds: Self.masterSeconds, start: 6, seconds: 5)
        let up = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: clip)
        #expect(up.status == 200)
        let answer = try RunningDaemon.decoder.decode(MatchAnswer.self, from: Data(up.body))
        #expect(answer.matches.first?.track_id == ids[2])

        try server.stop()
        let start = ContinuousClock.now
        let down = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: clip)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(down.status == 503)
        #expect(down.header("Retry-After") == "5")
        let error = try JSONDecoder().decode(APIError.Body.self, from: Data(down.body)).error
        #expect(error.code == "database_unavailable")
        #expect(error.message.contains("the shard east is unavailable"), "\(error.message)")
        // Health stays 200 and ok, and names the shard that is down.
        let health = try await daemon.call("GET", "/v1/health", route: "/v1/health")
        #expect(health.status == 200)
        let state = try RunningDaemon.decoder.decode(Health.self, from: Data(health.body))
        #expect(state.status == "ok" && state.shards?.map(\.name) == ["east"] && state.shards?.first?.status == "down", "\(state)")
        #expect(state.shards?.first?.error?.contains("\"east\"") == true, "\(state)")
        // The registry's own error names it too, and so does the check.
        #expect(throws: RegistryError.self) { try db.query("SELECT count(*) FROM fingerprints") }
        do { _ = try db.query("SELECT count(*) FROM fingerprints") } catch let failure as RegistryError {
            #expect(failure.unavailableShard == "east", "\(failure)")
        }
        let probes = try Shards.check(db, timeoutSeconds: 2)
        #expect(probes.map(\.isUp) == [false] && probes.first?.problem?.contains("\"east\"") == true, "\(probes)")
        // A move needing it changes nothing.
        #expect(throws: RegistryError.self) { try Shards.move(db, partition: "p1", to: "local") }
        #expect(try Shards.placements(db).map(\.location) == ["local", "east", "local", "local"])

        try server.start()
        let back = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: clip)
        #expect(back.status == 200)
        #expect(try RunningDaemon.decoder.decode(MatchAnswer.self, from: Data(back.body)) == answer)
        #expect(try Shards.check(db, timeoutSeconds: 2).map(\.isUp) == [true])
    }
}
