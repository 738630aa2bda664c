import Daemon
import Foundation
import TestSupport
import Testing

/// `tracemark doctor` as a process: each check's status and fix, and the exit status.
@Suite struct DoctorTests {
    func checks(_ stdout: String) throws -> [String: (status: String, fix: String?)] {
        let array = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [[String: Any]], "\(stdout)")
        return Dictionary(uniqueKeysWithValues: array.map { ($0["check"] as? String ?? "", ($0["status"] as? String ?? "", $0["fix"] as? String)) })
    }

    @Test func aHealthyRegistryPassesAndEachProblemIsNamedWithItsFix() async throws {
        let directory = "/tmp/tdoc-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = try TestDatabase.create()
        let data = directory + "/data", socket = directory + "/d.sock"
        let options = ["--data-dir", data, "--database-url", url, "--socket", socket, "--json"]
        #expect(try CLI.run(["keys", "init", "--data-dir", data, "--auditor-out", directory + "/auditor.pem"]).status == 0)

        // Everything in order, no daemon yet: a warning, not a failure.
        let healthy = try CLI.run(["doctor"] + options)
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        let first = try checks(healthy.stdout)
        #expect(["configuration", "libraries", "data directory", "database", "history role", "fingerprints", "keys"].allSatisfy { first[$0]?.status == "ok" }, "\(first)")
        #expect(first["daemon"]?.status == "warn" && first["daemon"]?.fix?.contains("tracemark serve") == true)

        // A private key others can read fails, with the fix.
        let signing = try #require(try FileManager.default.contentsOfDirectory(atPath: data + "/keys").first { $0.hasPrefix("signing-") })
        chmod(data + "/keys/" + signing, 0o644)
        let loose = try CLI.run(["doctor"] + options)
        let looseChecks = try checks(loose.stdout)
        #expect(loose.status == 1 && looseChecks["keys"]?.status == "fail")
        let text = try CLI.run(["doctor", "--data-dir", data, "--database-url", url, "--socket", socket])
        #expect(text.stdout.contains("FAIL  keys") && text.stdout.contains("fix: chmod 600"), "\(text.stdout)")
        chmod(data + "/keys/" + signing, 0o600)

        // A live daemon answers; a database that is not there fails.
        let (daemon, _, _) = try CLI.start(["serve", "--database-url", url, "--data-dir", data, "--socket", socket, "--log-level", "error"])
        defer { daemon.terminate() }
        let client = DaemonClient(socketPath: socket)
        for _ in 0..<300 where daemon.isRunning && !client.isAnswering { try await Task.sleep(for: .milliseconds(100)) }
        let live = try CLI.run(["doctor"] + options)
        let liveChecks = try checks(live.stdout)
        #expect(live.status == 0 && liveChecks["daemon"]?.status == "ok", "\(live.stdout)")
        let unreachable = try CLI.run(["doctor", "--data-dir", data, "--database-url", "host=/nonexistent dbname=x connect_timeout=2", "--json"])
        let unreachableChecks = try checks(unreachable.stdout)
        #expect(unreachable.status == 1 && unreachableChecks["database"]?.status == "fail", "\(unreachable.stdout)")
    }

    @Test func completionScriptsAreGenerated() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try CLI.run(["--generate-completion-script", shell])
            #expect(result.status == 0 && result.stdout.contains("doctor") && result.stdout.contains("--via-daemon"), "\(shell): \(result.stderr)")
        }
    }

    @Test func everyCommandsHelpHasAnExample() throws {
        let commands = [["ingest"], ["serve"], ["match"], ["verify"], ["rights", "import"], ["rights", "show"], ["rights", "history"],
                        ["keys", "init"], ["keys", "rotate"], ["keys", "list"], ["watermark"], ["audit", "log"], ["audit", "verify"],
                        ["audit", "show"], ["audit", "detect"], ["db", "migrate"], ["db", "status"], ["db", "backup"], ["db", "restore"], ["remix"], ["styles"], ["doctor"]]
        for command in commands {
            let help = try CLI.run(command + ["--help"])
            #expect(help.status == 0 && help.stdout.contains("Example"), "tracemark \(command.joined(separator: " ")) --help: \(help.stdout)")
        }
    }
}

/// `tracemark inspect --svg`: the constellation drawn, every peak a dot, and the SVG renders.
@Suite struct InspectTests {
    @Test func everyPeakIsDrawnAndThePictureRenders() throws {
        let directory = "/tmp/tins-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(TestCatalog.wav(GeneratedMusic.track(seed: 3, seconds: 12, sampleRate: TestCatalog.rate)))
            .write(to: URL(fileURLWithPath: directory + "/clip.wav"))
        let result = try CLI.run(["inspect", directory + "/clip.wav", "--svg", directory + "/clip.svg", "--pairs", "50"])
        #expect(result.status == 0, "\(result.stderr)")
        let peaks = try #require(result.stdout.firstMatch(of: /(\d+) peaks/).flatMap { Int($0.1) }, "\(result.stdout)")
        let svg = try String(contentsOfFile: directory + "/clip.svg", encoding: .utf8)
        #expect(peaks > 50 && svg.components(separatedBy: "class=\"peak\"").count - 1 == peaks)
        #expect(svg.components(separatedBy: "class=\"pair\"").count - 1 <= 100 && svg.contains("frequency (Hz)"))
        let render = try CLI.runTool("/usr/bin/rsvg-convert", [directory + "/clip.svg", "-o", directory + "/clip.png"])
        let png = try Data(contentsOf: URL(fileURLWithPath: directory + "/clip.png"))
        #expect(render == 0 && png.count > 5000)
        #expect(try CLI.run(["inspect", directory + "/missing.wav"]).status != 0)
    }
}
