import Foundation
import Registry
import TestSupport
import Testing

/// `tracemark db init` and what `db status` says of the layout.
@Suite struct DatabaseInitTests {
    @Test func initPartitionsTheFingerprintTableAndStatusShowsIt() throws {
        let url = try TestDatabase.create()
        let data = "/tmp/tinit-" + UUID().uuidString.prefix(8)
        let options = ["--data-dir", data, "--database-url", url]
        let before = try CLI.run(["db", "status"] + options)
        #expect(before.stdout.contains("fingerprints: unpartitioned"), "\(before.stdout) \(before.stderr)")

        for bad in ["0", "1", "5000"] {
            let refused = try CLI.run(["db", "init", "--partitions", bad] + options)
            #expect(refused.status != 0 && refused.stderr.contains("--partitions must be between 2 and 1024, not \(bad)"), "\(refused.stderr)")
        }
        let notANumber = try CLI.run(["db", "init", "--partitions", "many"] + options)
        #expect(notANumber.status != 0 && notANumber.stderr.contains("many"), "\(notANumber.stderr)")

        let made = try CLI.run(["db", "init", "--partitions", "4"] + options)
        #expect(made.status == 0 && made.stdout.contains("hash-partitioned on hash into 4 partitions"), "\(made.stdout) \(made.stderr)")
        let again = try CLI.run(["db", "init", "--partitions", "4"] + options)
        #expect(again.status == 0 && again.stdout.contains("nothing changed"), "\(again.stdout) \(again.stderr)")
        let other = try CLI.run(["db", "init"] + options)
        #expect(other.status != 0 && other.stderr.contains("already hash-partitioned into 4 partitions, not \(FingerprintLayout.defaultPartitions)"), "\(other.stderr)")
        let after = try CLI.run(["db", "status"] + options)
        #expect(after.stdout.contains("fingerprints: hash-partitioned on hash into 4 partitions"), "\(after.stdout)")
    }
}
