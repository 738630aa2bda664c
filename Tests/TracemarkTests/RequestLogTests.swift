import Daemon
import Foundation
import TestSupport
import Testing

/// `tracemark serve --log-format json`: one JSON line per answered request, with the route,
/// status, latency, the peer's uid and what the request found.
@Suite struct RequestLogTests {
    @Test func everyRequestGetsOneJSONLineWithItsPeerAndSummary() async throws {
        let directory = "/tmp/trl-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: [11], seconds: 20, databaseURL: url)
        let socket = directory + "/d.sock"
        let (daemon, _, stderr) = try CLI.start(["serve", "--database-url", url, "--data-dir", directory, "--socket", socket, "--log-format", "json"])
        let client = DaemonClient(socketPath: socket)
        for _ in 0..<300 where daemon.isRunning && !client.isAnswering { try await Task.sleep(for: .milliseconds(100)) }
        try #require(client.isAnswering)
        let clip = try TestCatalog.excerpt(seed: 11, masterSeconds: 20, start: 4, seconds: 8)
        #expect(try await client.send(.POST, "/v1/match", body: clip).status == 200)
        #expect(try await client.send(.POST, "/v1/verify?use=dance&territory=SE", body: clip).status == 400)
        daemon.terminate()
        daemon.waitUntilExit()
        let lines = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        let objects = try lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not a JSON object of strings: \(line)")
        }
        let requests = objects.filter { $0["msg"] == "request" }
        try #require(requests.count == 2, "\(lines)")
        let match = requests[0], refused = requests[1]
        #expect(match["route"] == "/v1/match" && match["method"] == "POST" && match["status"] == "200", "\(match)")
        #expect(match["peer_uid"] == String(getuid()) && match["peer_gid"] == String(getgid()))
        #expect(match["match"]?.hasPrefix("track \(ids[0]) at 4") == true, "\(match)")
        #expect(Double(match["latency_ms"] ?? "") ?? -1 > 0 && match["level"] == "info" && match["time"] != nil)
        #expect(refused["route"] == "/v1/verify" && refused["status"] == "400" && refused["error"] == "bad_parameter", "\(refused)")
    }
}
