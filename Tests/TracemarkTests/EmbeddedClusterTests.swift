import Foundation
import TestSupport
import Testing

/// The embedded PostgreSQL as commands use it: created on first use, shared by concurrent
/// commands, stopped when the last one ends, and reused next time.
@Suite struct EmbeddedClusterTests {
    @Test func concurrentCommandsShareOneClusterThatIsStoppedAndReused() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tm-emb-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: home) }

        // Two commands on a directory with no cluster yet: one creates it, both use it.
        let results = Mutexed<[CLI.Result]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                let result = try? CLI.run(["db", "status", "--data-dir", home])
                results.value = results.value + [result].compactMap { $0 }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(results.value.count == 2)
        for result in results.value {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("applied  0001_catalog"), "\(result.stdout)")
        }
        let cluster = home + "/postgres"
        #expect(!FileManager.default.fileExists(atPath: cluster + "/postmaster.pid"), "server still running after both commands ended")
        let created = try FileManager.default.attributesOfItem(atPath: cluster + "/PG_VERSION")[.modificationDate] as? Date

        // Next time the same cluster is started again, not re-created.
        let again = try CLI.run(["db", "status", "--data-dir", home])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: cluster + "/PG_VERSION")[.modificationDate] as? Date == created)
        #expect(!FileManager.default.fileExists(atPath: cluster + "/postmaster.pid"))
    }
}
