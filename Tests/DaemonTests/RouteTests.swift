import Daemon
import Foundation
import Registry
import TestSupport
import Testing

/// Every route through a real socket against a real PostgreSQL, each answer checked against
/// docs/openapi.yaml.
@Suite struct RouteTests {
    static let seeds: [UInt64] = [101, 202, 303]
    static let masterSeconds = 30.0

    func decode<T: Decodable>(_ type: T.Type, _ reply: DaemonClient.Reply) throws -> T {
        try RunningDaemon.decoder.decode(type, from: Data(reply.body))
    }

    func errorCode(_ reply: DaemonClient.Reply) -> String? {
        (try? JSONDecoder().decode(APIError.Body.self, from: Data(reply.body)))?.error.code
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedPathIsServed() {
        #expect(Set(OpenAPIDocument.shared.paths.keys) == Set(DaemonService.routePaths))
    }

    @Test func matchFindsTheMasterAndOffsetOfAnExcerpt() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }

        let clip = try TestCatalog.excerpt(seed: Self.seeds[1], masterSeconds: Self.masterSeconds, start: 12.3, seconds: 6)
        let reply = try await daemon.call("POST", "/v1/match?top=3", route: "/v1/match", body: clip,
                                   headers: [("Content-Type", "audio/wav")])
        #expect(reply.status == 200)
        let answer = try decode(MatchAnswer.self, reply)
        let best = try #require(answer.matches.first)
        #expect(best.track_id == ids[1])
        #expect(best.title == "Song 202")
        #expect(abs(best.offset_s - 12.3) < 0.05)
        #expect(best.query_start_s < best.query_end_s && best.master_start_s >= 12)
        #expect(best.confidence > 0 && best.confidence <= 1)
        #expect(abs(answer.query.duration_s - 6) < 0.01)
        #expect(reply.header("Server-Timing")?.contains("lookup;dur=") == true)

        // The same clip as raw PCM: 16-bit little-endian after the 44-byte WAV header.
        let raw = try await daemon.call("POST", "/v1/match?format=s16le&rate=\(TestCatalog.rate)&channels=1", route: "/v1/match",
                                 body: Array(clip.dropFirst(44)))
        #expect(try decode(MatchAnswer.self, raw).matches.first?.track_id == ids[1])
    }

    @Test func unrelatedAudioIsNoMatch() async throws {
        let url = try TestDatabase.create()
        _ = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let unknown = try TestCatalog.excerpt(seed: 999, masterSeconds: 20, start: 2, seconds: 10)
        let reply = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: unknown)
        #expect(reply.status == 200)
        #expect(try decode(MatchAnswer.self, reply).matches.isEmpty)
    }

    @Test func badRequestsGetTheirDocumentedErrors() async throws {
        let url = try TestDatabase.create()
        _ = try TestCatalog.store(seeds: [Self.seeds[0]], seconds: 10, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url) { $0.maxBodyBytes = 100_000 }
        defer { Task { await daemon.stop() } }

        let garbage = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: Array("not audio at all".utf8))
        #expect(garbage.status == 400 && errorCode(garbage) == "unreadable_audio")
        let empty = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: [])
        #expect(empty.status == 400 && errorCode(empty) == "empty_body")
        let large = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: [UInt8](repeating: 1, count: 100_001))
        #expect(large.status == 413 && errorCode(large) == "body_too_large")
        let json = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: Array("{}".utf8),
                                  headers: [("Content-Type", "application/json")])
        #expect(json.status == 415 && errorCode(json) == "unsupported_media_type")
        let format = try await daemon.call("POST", "/v1/match?format=f32le&rate=8000&channels=1", route: "/v1/match", body: [0, 0, 0, 0])
        #expect(format.status == 415)
        let noRate = try await daemon.call("POST", "/v1/match?format=s16le", route: "/v1/match", body: [0, 0])
        #expect(noRate.status == 400 && errorCode(noRate) == "bad_parameter")
        let top = try await daemon.call("POST", "/v1/match?top=0", route: "/v1/match", body: [0, 0])
        #expect(top.status == 400 && errorCode(top) == "bad_parameter")
        let badID = try await daemon.call("GET", "/v1/tracks/abc", route: "/v1/tracks/{id}")
        #expect(badID.status == 400)
        let missing = try await daemon.call("GET", "/v1/tracks/424242", route: "/v1/tracks/{id}")
        #expect(missing.status == 404 && errorCode(missing) == "track_not_found")
        let route = try await daemon.client.send(.GET, "/v1/nothing-here")
        #expect(route.status == 404 && errorCode(route) == "not_found")
        // A path that exists, asked with a method it does not take.
        let put = try await daemon.client.send(.PUT, "/v1/match", body: [0, 0])
        #expect(put.status == 405 && errorCode(put) == "method_not_allowed")
        #expect(put.header("Allow") == "POST")
        let deleteMark = try await daemon.client.send(.DELETE, "/v1/watermarks/17")
        #expect(deleteMark.status == 405 && deleteMark.header("Allow") == "GET")
    }

    @Test func healthTracksAndMetricsDescribeTheCatalog() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: 10, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }

        let health = try decode(Health.self, try await daemon.call("GET", "/v1/health", route: "/v1/health"))
        #expect(health.status == "ok" && health.catalog.tracks == 3 && health.catalog.hashes > 0)
        #expect(abs(health.catalog.hours - 30.0 / 3600) < 0.001)

        let first = try decode(TrackPage.self, try await daemon.call("GET", "/v1/tracks?limit=2", route: "/v1/tracks"))
        #expect(first.tracks.map(\.id) == Array(ids.prefix(2)) && first.next_after == ids[1])
        let second = try decode(TrackPage.self, try await daemon.call("GET", "/v1/tracks?limit=2&after=\(ids[1])", route: "/v1/tracks"))
        #expect(second.tracks.map(\.id) == [ids[2]] && second.next_after == nil)
        let one = try decode(TrackInfo.self, try await daemon.call("GET", "/v1/tracks/\(ids[0])", route: "/v1/tracks/{id}"))
        #expect(one.title == "Song 101" && one.album == nil && one.content_sha256.count == 64)

        _ = try await daemon.call("GET", "/v1/tracks/999999", route: "/v1/tracks/{id}")
        let metrics = try await daemon.call("GET", "/metrics", route: "/metrics").text
        #expect(metrics.contains(#"tracemark_http_requests_total{route="/v1/tracks/{id}",method="GET",status="404"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"tracemark_http_requests_total{route="/v1/health",method="GET",status="200"} 1"#))
        #expect(metrics.contains("tracemark_http_request_duration_seconds_bucket"))
        #expect(metrics.contains("tracemark_catalog_tracks 3"))
        #expect(metrics.contains(#"tracemark_db_pool_connections{state="in_use"}"#))
    }

    @Test func thirtyTwoConcurrentQueriesAreAllAnsweredCorrectly() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: Self.masterSeconds, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url) { $0.poolSize = 4 }
        defer { Task { await daemon.stop() } }
        let clips = try (0..<32).map { i in
            try TestCatalog.excerpt(seed: Self.seeds[i % 3], masterSeconds: Self.masterSeconds, start: Double(i % 7) * 2.5, seconds: 5)
        }
        let found = try await withThrowingTaskGroup(of: (Int, Int32?).self) { group in
            for (i, clip) in clips.enumerated() {
                group.addTask {
                    let reply = try await daemon.client.send(.POST, "/v1/match", body: clip)
                    return (i, try JSONDecoder().decode(MatchAnswer.self, from: Data(reply.body)).matches.first?.track_id)
                }
            }
            return try await group.reduce(into: [Int: Int32?]()) { $0[$1.0] = $1.1 }
        }
        #expect(found.count == 32)
        for i in 0..<32 { #expect(found[i] == ids[i % 3], "query \(i)") }
    }

    @Test func aDatabaseThatGoesAwayCosts503sAndServiceResumesByItself() async throws {
        let url = try TestDatabase.create()
        _ = try TestCatalog.store(seeds: [Self.seeds[0]], seconds: 20, databaseURL: url)
        let name = try #require(url.split(separator: " ").first { $0.hasPrefix("dbname=") }?.dropFirst("dbname=".count))
        let admin = try PostgresConnection(connectionString: url.replacingOccurrences(of: "dbname=\(name)", with: "dbname=postgres"))
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let clip = try TestCatalog.excerpt(seed: Self.seeds[0], masterSeconds: 20, start: 4, seconds: 5)
        #expect(try await daemon.client.send(.POST, "/v1/match", body: clip).status == 200)

        // Refuse new connections and end the pooled ones, as a restart would.
        try admin.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [.text(String(name))])
        let away = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: clip)
        #expect(away.status == 503 && errorCode(away) == "database_unavailable")
        #expect(away.header("Retry-After") == "5")
        let health = try await daemon.call("GET", "/v1/health", route: "/v1/health")
        #expect(health.status == 503)

        try admin.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
        let back = try await daemon.call("POST", "/v1/match", route: "/v1/match", body: clip)
        #expect(back.status == 200)
        #expect(try decode(MatchAnswer.self, back).matches.count == 1)
    }
}

/// `Expect: 100-continue` (curl sends it with bodies over 1 MB) gets its interim answer before
/// the body is sent, from a client that waits for it on a plain socket.
@Suite struct ContinueTests {
    @Test func anExpectingClientIsToldToContinueBeforeItSendsTheBody() async throws {
        let url = try TestDatabase.create()
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let body = try TestCatalog.wav(GeneratedMusic.track(seed: 5, seconds: 3, sampleRate: TestCatalog.rate))
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0) // generous: the suite runs beside others on a loaded machine
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(daemon.client.socketPath.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(connected == 0)
        func send(_ bytes: [UInt8]) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                sent += n
            }
        }
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &buffer, buffer.count)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        }
        send(Array("POST /v1/match HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n".utf8))
        let interim = receive()
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim)")
        send(body)
        var reply = ""
        for _ in 0..<20 where !reply.contains("\"matches\"") {
            let part = receive()
            if part.isEmpty { break }
            reply += part
        }
        #expect(reply.contains("HTTP/1.1 200 OK") && reply.contains("\"matches\""), "\(reply)")
    }
}

/// `POST /v1/match?explain=svg`: the picture of a match, checked by rendering it.
@Suite struct ExplainTests {
    @Test func theMatchIsDrawnAsALineOfAgreeingHashesAndTheSVGRenders() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: [101, 202], seconds: 30, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let clip = try TestCatalog.excerpt(seed: 202, masterSeconds: 30, start: 9, seconds: 10)
        let reply = try await daemon.client.send(.POST, "/v1/match?explain=svg", body: clip)
        #expect(OpenAPIDocument.shared.problems(path: "/v1/match", method: "POST", reply: reply).isEmpty)
        #expect(reply.status == 200 && reply.header("Content-Type") == "image/svg+xml")
        let svg = reply.text
        let title = try #require(svg.firstMatch(of: /<title>Song 202 - Generated \(track (\d+)\): offset ([0-9.]+) s, score (\d+)/), "\(svg.prefix(600))")
        #expect(Int32(title.1) == ids[1] && abs((Double(title.2) ?? 0) - 9) < 0.1 && (Int(title.3) ?? 0) > 20)
        let agreeing = svg.components(separatedBy: "class=\"agreeing\"").count - 1
        #expect(agreeing >= 20, "\(agreeing) agreeing hashes drawn")
        // Unknown audio: a picture that says so.
        let unknown = try TestCatalog.wav(GeneratedMusic.track(seed: 909, seconds: 8, sampleRate: TestCatalog.rate))
        let none = try await daemon.client.send(.POST, "/v1/match?explain=svg", body: unknown)
        #expect(none.status == 200 && none.text.contains("<title>no match") && !none.text.contains("class=\"agreeing\""))
        #expect(try await daemon.client.send(.POST, "/v1/match?explain=png", body: clip).status == 400)

        // It renders: rsvg-convert (tools/setup installs it) turns it into a PNG of the declared size.
        let directory = "/tmp/texp-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(svg.utf8).write(to: URL(fileURLWithPath: directory + "/match.svg"))
        let render = Process()
        render.executableURL = URL(fileURLWithPath: "/usr/bin/rsvg-convert")
        render.arguments = [directory + "/match.svg", "-o", directory + "/match.png"]
        try render.run()
        render.waitUntilExit()
        #expect(render.terminationStatus == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: directory + "/match.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) && png.count > 5000)
        // PNG width and height (big-endian, bytes 16-23) are the SVG's.
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1000 && height == 500, "\(width) x \(height)")
    }
}
