import Audio
import Daemon
import Foundation
import TestSupport
import Testing

/// `tracemark remix --via-daemon` as a process against `tracemark serve`.
@Suite struct RemixViaDaemonTests {
    @Test func aRemixOfUnknownMusicIsReleasedAndOneOfACatalogMasterIsRefused() async throws {
        let directory = "/tmp/trvd-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = try TestDatabase.create()
        let data = directory + "/data", socket = directory + "/d.sock"
        #expect(try CLI.run(["keys", "init", "--data-dir", data, "--auditor-out", directory + "/auditor.pem"]).status == 0)
        // A catalog master with no rights on file: the default policy blocks remixes of it.
        _ = try TestCatalog.store(seeds: [7], seconds: 20, databaseURL: url)
        let (daemon, _, _) = try CLI.start(["serve", "--database-url", url, "--data-dir", data, "--socket", socket, "--log-level", "error"])
        defer { daemon.terminate() }
        let client = DaemonClient(socketPath: socket)
        for _ in 0..<300 where daemon.isRunning && !client.isAnswering { try await Task.sleep(for: .milliseconds(100)) }
        try #require(client.isAnswering, "tracemark serve did not start answering on \(socket)")

        let song = directory + "/song.wav", released = directory + "/released.flac", report = directory + "/report.json"
        try Data(GeneratedMusic.stereoWAV(seed: 44, seconds: 12)).write(to: URL(fileURLWithPath: song))
        let ok = try CLI.run(["remix", song, "-o", released, "--via-daemon", "--territory", "se"]
                             + ["--tempo", "1.05", "--socket", socket, "--report", report])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\(released): released with watermark serial 1"), "\(ok.stdout)")
        let audio = try AudioDecoder.decodeMultichannel(path: released)
        #expect(audio.channelCount == 2 && abs(audio.duration - 12 / 1.05) < 0.01)
        #expect(try Data(contentsOf: URL(fileURLWithPath: released)).prefix(4) == Data("fLaC".utf8))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect(json["released"] as? Bool == true && json["serial"] as? Int == 1 && json["territory"] as? String == "SE")

        let master = directory + "/master.wav", refusedOut = directory + "/refused.wav"
        try Data(TestCatalog.excerpt(seed: 7, masterSeconds: 20, start: 2, seconds: 15)).write(to: URL(fileURLWithPath: master))
        let refused = try CLI.run(["remix", master, "-o", refusedOut, "--via-daemon", "--territory", "SE", "--socket", socket])
        #expect(refused.status == 3, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stdout.contains("refused: the rights block this remix in SE") && refused.stdout.contains("refused"), "\(refused.stdout)")
        #expect(refused.stdout.contains(" s  refused  track "), "the outcome column is padded: \(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: refusedOut))

        // Local-only options are refused with --via-daemon, and daemon options without it.
        #expect(try CLI.run(["remix", song, "-o", refusedOut, "--via-daemon"]).status != 0)
        #expect(try CLI.run(["remix", song, "-o", refusedOut, "--tempo", "1.1", "--territory", "SE"]).status != 0)
    }
}
