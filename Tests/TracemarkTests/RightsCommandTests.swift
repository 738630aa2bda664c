import Foundation
import Registry
import TestSupport
import Testing

/// `tracemark rights import|show|history` against a real PostgreSQL.
@Suite struct RightsCommandTests {
    let directory: String
    let url: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracemark-rights-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        url = try TestDatabase.create()
        _ = try TestCatalog.store(seeds: [5], seconds: 5, databaseURL: url)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func versions() throws -> Int64 {
        try PostgresConnection(connectionString: url).query("SELECT count(*) FROM policy_versions").rows[0][0].int ?? -1
    }

    @Test func aFileWithBadRowsIsRejectedWholeWithEveryBadLineNamed() throws {
        let file = try write("rights.csv", """
            track_id,isrc,holder,territories,valid_from,valid_until,remix,cover
            1,,Label A,WW,,,claim,claim
            ,ZZTMK2600001,Label B,SE XX,,,allow,
            ,ZZTMK2600002,Label C,WW,2026-05-01,2026-01-01,block,
            ,ZZTMK2600003,Label D,WW,,,maybe,
            """)
        let result = try CLI.run(["rights", "import", file, "--database-url", url])
        #expect(result.status != 0)
        #expect(result.stderr.contains("rights.csv:3: territory 'XX'"), "\(result.stderr)")
        #expect(result.stderr.contains("rights.csv:4: valid_until must be after valid_from"))
        #expect(result.stderr.contains("rights.csv:5: remix 'maybe'"))
        #expect(try versions() == 0)
    }

    @Test func importShowAndHistory() throws {
        let json = try write("rights.json", """
            [{"track_id": 1, "holder": "Label A", "territories": ["SE", "NO"], "remix": "allow", "stream": "claim"},
             {"track_id": 1, "holder": "Label A", "territories": "WW", "remix": "block"}]
            """)
        let dry = try CLI.run(["rights", "import", json, "--dry-run", "--database-url", url])
        #expect(dry.status == 0 && dry.stdout.contains("would create 1 policies"), "\(dry.stdout)\(dry.stderr)")
        #expect(try versions() == 0)
        let real = try CLI.run(["rights", "import", json, "--database-url", url])
        #expect(real.status == 0 && real.stdout.contains("created 1 policies"), "\(real.stderr)")

        let show = try CLI.run(["rights", "show", "1", "--database-url", url])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains(" v1 of Label A"), "\(show.stdout)")
        #expect(show.stdout.contains("NO SE  always .. open  stream=claim remix=allow"))
        #expect(show.stdout.contains("WW  always .. open  remix=block"))

        let update = try write("update.csv", "track_id,holder,territories,remix\n1,Label A,WW,claim\n")
        #expect(try CLI.run(["rights", "import", update, "--database-url", url]).stdout.contains("added 1 new versions"))
        let history = try CLI.run(["rights", "history", "1", "--database-url", url])
        #expect(history.stdout.contains(" v1 of Label A") && history.stdout.contains(" v2 of Label A"), "\(history.stdout)")
        let missing = try CLI.run(["rights", "show", "999", "--database-url", url])
        #expect(missing.status != 0 && missing.stderr.contains("no track with id, ISRC or content SHA-256 '999'"))
    }

    @Test func theIngestSidecarCanCarryARightsRule() throws {
        let masters = directory + "/masters"
        try FileManager.default.createDirectory(atPath: masters, withIntermediateDirectories: true)
        try Data(try TestCatalog.wav(GeneratedMusic.track(seed: 31, seconds: 6, sampleRate: TestCatalog.rate)))
            .write(to: URL(fileURLWithPath: masters + "/song.wav"))
        let sidecar = try write("meta.csv", "file,title,holder,territories,remix,sync\nsong.wav,Song,Label S,SE NO,claim,block\n")
        let bad = try write("bad.csv", "file,title,holder,territories,remix\nsong.wav,Song,Label S,SE,perhaps\n")
        let rejected = try CLI.run(["ingest", masters, "--metadata", bad, "--database-url", url])
        #expect(rejected.status != 0 && rejected.stderr.contains("bad.csv:2: rights: remix 'perhaps'"), "\(rejected.stderr)")

        let ingest = try CLI.run(["ingest", masters, "--metadata", sidecar, "--database-url", url])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let show = try CLI.run(["rights", "show", "2", "--database-url", url])
        #expect(show.stdout.contains("v1 of Label S") && show.stdout.contains("NO SE  always .. open  remix=claim sync=block"), "\(show.stdout)")
    }
}
