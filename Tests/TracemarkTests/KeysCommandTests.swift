import Foundation
import TestSupport
import Testing

/// `tracemark keys` and the daemon's check of key file permissions.
@Suite struct KeysCommandTests {
    let directory: String
    var dataDirectory: String { directory + "/data" }

    init() throws {
        directory = "/tmp/tmk-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func keyFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/keys").sorted()
    }

    @Test func initWritesPrivateKeysOwnerOnlyAndTheAuditorKeyOnlyWhereAsked() throws {
        let auditor = directory + "/auditor.pem"
        let inside = try CLI.run(["keys", "init", "--data-dir", dataDirectory, "--auditor-out", dataDirectory + "/auditor.pem"])
        #expect(inside.status != 0 && inside.stderr.contains("inside the data directory"), "\(inside.stderr)")

        let created = try CLI.run(["keys", "init", "--data-dir", dataDirectory, "--auditor-out", auditor])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try mode(auditor) == 0o600)
        #expect(try String(contentsOfFile: auditor, encoding: .utf8).contains("PRIVATE KEY"))
        let files = try keyFiles()
        #expect(files.count == 4 && files.contains("current"))
        for file in files where file.hasPrefix("signing-") || file.hasPrefix("mark-") {
            #expect(try mode(dataDirectory + "/keys/" + file) == 0o600, "\(file)")
        }
        for file in files where file.hasPrefix("auditor-") {
            #expect(try !String(contentsOfFile: dataDirectory + "/keys/" + file, encoding: .utf8).contains("PRIVATE"))
        }
        let again = try CLI.run(["keys", "init", "--data-dir", dataDirectory, "--auditor-out", directory + "/other.pem"])
        #expect(again.status != 0 && again.stderr.contains("keys already exist"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/other.pem"))
    }

    @Test func rotationAddsKeysAndKeepsTheOldOnes() throws {
        #expect(try CLI.run(["keys", "init", "--data-dir", dataDirectory, "--auditor-out", directory + "/a.pem"]).status == 0)
        let before = try keyFiles()
        let rotated = try CLI.run(["keys", "rotate", "--data-dir", dataDirectory])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        let after = try keyFiles()
        #expect(Set(before).isSubset(of: Set(after)) && after.count == before.count + 2)
        let list = try CLI.run(["keys", "list", "--data-dir", dataDirectory])
        #expect(list.stdout.split(separator: "\n").filter { $0.hasPrefix("*") }.count == 3, "\(list.stdout)")
        #expect(list.stdout.split(separator: "\n").filter { $0.hasPrefix(" ") }.count == 2)
    }

    @Test func aPrivateKeyReadableByOthersStopsTheDaemonNamingTheFile() throws {
        #expect(try CLI.run(["keys", "init", "--data-dir", dataDirectory, "--auditor-out", directory + "/a.pem"]).status == 0)
        let signing = try #require(try keyFiles().first { $0.hasPrefix("signing-") })
        let path = dataDirectory + "/keys/" + signing
        chmod(path, 0o644)
        let serve = try CLI.run(["serve", "--data-dir", dataDirectory, "--database-url", "host=/nonexistent dbname=none"])
        #expect(serve.status != 0)
        #expect(serve.stderr.contains(path) && serve.stderr.contains("chmod 600"), "\(serve.stderr)")
    }
}
