import Audio
import Daemon
import Foundation
import TestSupport
import Testing

/// `tracemark watermark` and `tracemark audit show|detect` as processes, directly against the
/// database and through a daemon.
@Suite struct WatermarkCommandTests {
    let directory: String
    let url: String
    var dataDirectory: String { directory + "/data" }
    var auditorKey: String { directory + "/auditor.pem" }

    init() throws {
        directory = "/tmp/tmwc-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        url = try TestDatabase.create()
        let keys = try CLI.run(["keys", "init", "--data-dir", directory + "/data", "--auditor-out", directory + "/auditor.pem"])
        guard keys.status == 0 else { throw TestSetupError(message: "keys init: \(keys.stderr)") }
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func watermarkThenDetectAndShowWithTheAuditorKey() throws {
        let song = try write(GeneratedMusic.stereoWAV(seed: 41, seconds: 20), "song.wav")
        let marked = directory + "/marked.flac"
        let database = ["--database-url", url, "--data-dir", dataDirectory]
        let issued = try CLI.run(["watermark", song, "-o", marked, "--purpose", "cover for Label B"] + database)
        #expect(issued.status == 0, "\(issued.stderr)")
        #expect(issued.stdout.contains("\(marked): watermark serial 1"), "\(issued.stdout)")
        #expect(FileManager.default.fileExists(atPath: marked))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy { !$0.contains(".partial-") })

        let detected = try CLI.run(["audit", "detect", marked, "--auditor-key", auditorKey, "--json"] + database)
        #expect(detected.status == 0, "\(detected.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as? [String: Any], "\(detected.stdout)")
        #expect(answer["found"] as? Bool == true && answer["serial"] as? Int == 1)
        #expect((answer["signature"] as? [String: Any])?["status"] as? String == "verified")
        #expect((answer["ledger_row"] as? [String: Any])?["serial"] as? Int == 1)
        let payload = try #require(answer["payload"] as? [String: Any])
        #expect(payload["purpose"] as? String == "cover for Label B")
        #expect(payload["requester_uid"] as? Int == Int(getuid()))
        let markedSHA = ContentDigestHex.file(marked)
        #expect(payload["output_sha256"] as? String == markedSHA && payload["input_sha256"] as? String == ContentDigestHex.file(song))

        let shown = try CLI.run(["audit", "show", "1", "--auditor-key", auditorKey] + database)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("signature: verified (current key)") && shown.stdout.contains("purpose        cover for Label B"), "\(shown.stdout)")

        // A wrong auditor key: the error names the certificate's key and the one offered.
        let other = try CLI.run(["keys", "init", "--data-dir", directory + "/other", "--auditor-out", directory + "/other.pem"])
        #expect(other.status == 0)
        let wrong = try CLI.run(["audit", "show", "1", "--auditor-key", directory + "/other.pem"] + database)
        let ids = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/keys").filter { $0.hasPrefix("auditor-") }
            + FileManager.default.contentsOfDirectory(atPath: directory + "/other/keys").filter { $0.hasPrefix("auditor-") }
        #expect(wrong.status != 0)
        for name in ids {
            let id = name.dropFirst("auditor-".count).prefix(16)
            #expect(wrong.stderr.contains(id), "\(wrong.stderr) should name \(id)")
        }
        #expect(wrong.stderr.contains("decrypt with the auditor private key of that id"), "\(wrong.stderr)")

        let missing = try CLI.run(["audit", "show", "9", "--auditor-key", auditorKey] + database)
        #expect(missing.status != 0 && missing.stderr.contains("watermark 9 not found"), "\(missing.stderr)")
    }

    @Test func unmarkedAudioIsNotFoundAndExitsNonZero() throws {
        let clip = try write(GeneratedMusic.stereoWAV(seed: 42, seconds: 10), "clip.wav")
        let result = try CLI.run(["audit", "detect", clip, "--database-url", url, "--data-dir", dataDirectory])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("\(clip): no watermark found"))
    }

    @Test func watermarkGoesThroughTheDaemonWhenOneAnswers() async throws {
        let socket = directory + "/d.sock"
        let (daemon, _, _) = try CLI.start(["serve", "--database-url", url, "--data-dir", dataDirectory, "--socket", socket, "--log-level", "error"])
        defer { daemon.terminate() }
        let client = DaemonClient(socketPath: socket)
        for _ in 0..<300 where daemon.isRunning && !client.isAnswering { try await Task.sleep(for: .milliseconds(100)) }
        try #require(client.isAnswering, "tracemark serve did not start answering on \(socket)")

        let song = try write(GeneratedMusic.stereoWAV(seed: 43, seconds: 9), "song.wav")
        let marked = directory + "/marked.wav"
        let issued = try CLI.run(["watermark", song, "-o", marked, "--json", "--socket", socket, "--data-dir", dataDirectory])
        #expect(issued.status == 0, "\(issued.stderr)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: Any], "\(issued.stdout)")
        #expect(answer["serial"] as? Int == 1 && answer["output_sha256"] as? String == ContentDigestHex.file(marked))
        // The certificate the daemon hands out is the one the ledger holds.
        let certificate = try await client.send(.GET, "/v1/watermarks/1")
        #expect(certificate.status == 200 && certificate.body.count > 77)
        let shown = try CLI.run(["audit", "show", "1", "--auditor-key", auditorKey, "--json", "--database-url", url, "--data-dir", dataDirectory])
        #expect(shown.status == 0 && shown.stdout.contains("\"requester_uid\":\(getuid())"), "\(shown.stdout) \(shown.stderr)")
    }
}

enum ContentDigestHex {
    static func file(_ path: String) -> String {
        (try? ContentDigest.sha256(fileAt: path)).map(ContentDigest.hex) ?? ""
    }
}
