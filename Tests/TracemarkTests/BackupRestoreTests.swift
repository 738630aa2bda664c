import Audio
import Daemon
import Foundation
import Registry
import TestSupport
import Testing

/// `tracemark db backup|restore` as processes: a registry with a catalog, rights, a verification
/// and a watermark, backed up and restored into a fresh embedded registry that answers the same.
@Suite struct BackupRestoreTests {
    let directory: String
    let url: String
    static let rate = 22050
    var source: [String] { ["--database-url", url, "--data-dir", directory + "/source"] }
    var restored: [String] { ["--data-dir", directory + "/restored"] }

    init() throws {
        // Short: the embedded cluster's socket path must stay under 100 bytes.
        directory = "/tmp/tmbk-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory + "/masters", withIntermediateDirectories: true)
        url = try TestDatabase.create()
    }

    func run(_ arguments: [String]) throws -> CLI.Result {
        let result = try CLI.run(arguments)
        #expect(result.status == 0, "tracemark \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    @Test func aRoundTripAnswersTheSameAndTheLedgerStillVerifies() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A registry worth restoring: two masters, a policy, a verification and a watermark.
        for (i, seed) in [UInt64(61), 62].enumerated() {
            try AudioWriter.write(GeneratedMusic.track(seed: seed, seconds: 30, sampleRate: Self.rate), sampleRate: Self.rate, channels: 1,
                                  to: "\(directory)/masters/m\(i).\(["wav", "flac"][i])")
        }
        let clip = directory + "/clip.wav"
        try AudioWriter.write(GeneratedMusic.excerpt(GeneratedMusic.track(seed: 62, seconds: 30, sampleRate: Self.rate), sampleRate: Self.rate,
                                                     start: 7.3, seconds: 8), sampleRate: Self.rate, channels: 1, to: clip)
        _ = try run(["ingest", directory + "/masters"] + source)
        let match = try run(["match", clip, "--json"] + source).stdout
        // Ingest is parallel: the clip's master has whichever id it got.
        let track = try #require(match.firstMatch(of: /"track_id":(\d+)/).map { String($0.1) }, "\(match)")
        try "track_id,isrc,holder,territories,valid_from,valid_until,remix,cover\n\(track),,Label A,WW,,,block,allow\n"
            .write(toFile: directory + "/rights.csv", atomically: true, encoding: .utf8)
        _ = try run(["rights", "import", directory + "/rights.csv"] + source)
        _ = try run(["verify", clip, "--use", "remix", "--territory", "SE"] + source)
        _ = try run(["keys", "init", "--data-dir", directory + "/source", "--auditor-out", directory + "/auditor.pem"])
        let song = directory + "/song.wav"
        try Data(GeneratedMusic.stereoWAV(seed: 63, seconds: 10)).write(to: URL(fileURLWithPath: song))
        _ = try run(["watermark", song, "-o", directory + "/marked.flac", "--purpose", "backup test"] + source)

        let rights = try run(["rights", "show", track] + source).stdout
        #expect(rights.contains("v1 of Label A"), "\(rights)")

        let archive = directory + "/registry.dump"
        let backup = try run(["db", "backup", archive] + source)
        #expect(backup.stdout.contains("\(archive): backup written"), "\(backup.stdout)")
        let mode = try FileManager.default.attributesOfItem(atPath: archive)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy { !$0.contains(".partial-") })

        // Restored into a fresh embedded registry, with the keys directory copied as operations.md says.
        let restore = try run(["db", "restore", archive] + restored)
        #expect(restore.stdout.contains("2 tracks, 1 policy versions, 1 verifications, 1 ledger rows"), "\(restore.stdout)")
        #expect(try CLI.runTool("/bin/cp", ["-a", directory + "/source/keys", directory + "/restored/keys"]) == 0)
        #expect(try run(["match", clip, "--json"] + restored).stdout == match)
        #expect(try run(["rights", "show", track] + restored).stdout == rights)
        #expect(try run(["audit", "verify"] + restored).stdout.contains("ledger intact: 1 rows"))
        let status = try run(["db", "status"] + restored).stdout
        #expect(status.contains("history role: tracemark_history_writer appends"), "\(status)")

        // A registry with data is not replaced without --force; a bad archive changes nothing.
        let again = try CLI.run(["db", "restore", archive] + restored)
        #expect(again.status != 0 && again.stderr.contains("the registry is not empty (2 tracks") && again.stderr.contains("--force"),
                "\(again.stderr)")
        let missing = try CLI.run(["db", "restore", directory + "/nothing.dump", "--force"] + restored)
        #expect(missing.status != 0 && missing.stderr.contains("nothing.dump: no such file"), "\(missing.stderr)")
        let garbage = directory + "/garbage.dump"
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: garbage))
        let corrupt = try CLI.run(["db", "restore", garbage, "--force"] + restored)
        #expect(corrupt.status != 0 && corrupt.stderr.contains("is not a readable pg_dump archive"), "\(corrupt.stderr)")
        // Damaged data past the table of contents: the restore starts, fails, and is rolled back.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
        for i in bytes.count * 85 / 100 ..< bytes.count * 85 / 100 + 200 { bytes[i] ^= 0x5A }
        let damaged = directory + "/damaged.dump"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let failed = try CLI.run(["db", "restore", damaged, "--force"] + restored)
        #expect(failed.status != 0 && failed.stderr.contains("pg_restore failed"), "\(failed.stderr)")
        #expect(try run(["match", clip, "--json"] + restored).stdout == match)

        let forced = try run(["db", "restore", archive, "--force"] + restored)
        #expect(forced.stdout.contains("2 tracks, 1 policy versions, 1 verifications, 1 ledger rows"), "\(forced.stdout)")
        #expect(try run(["audit", "verify"] + restored).stdout.contains("ledger intact: 1 rows"))

        // An external database that already has the registry's tables is never overwritten.
        let external = try CLI.run(["db", "restore", archive, "--force"] + source)
        #expect(external.status != 0 && external.stderr.contains("already has Tracemark's tables"), "\(external.stderr)")

        // Nor is a registry whose daemon is running, even an idle one holding no connection.
        let (daemon, _, _) = try CLI.start(["serve", "--log-level", "error"] + restored)
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let socket = directory + "/restored/run/tracemark.sock"
        for _ in 0..<300 where daemon.isRunning && !DaemonClient(socketPath: socket).isAnswering { usleep(100_000) }
        try #require(DaemonClient(socketPath: socket).isAnswering, "tracemark serve did not start answering on \(socket)")
        let busy = try CLI.run(["db", "restore", archive, "--force"] + restored)
        #expect(busy.status != 0 && busy.stderr.contains("a daemon answers on \(socket)"), "\(busy.stderr)")
    }
}
