import Audio
import Foundation
import Registry
import TestSupport
import Testing

/// Ingest and match through the real executable against a real PostgreSQL.
@Suite struct IngestMatchTests {
    let directory: String
    let masters: String
    let url: String
    static let rate = 22050
    static let seeds: [UInt64] = [11, 22, 33, 44]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracemark-cli-\(UUID().uuidString.prefix(8))").path
        masters = directory + "/masters"
        try FileManager.default.createDirectory(atPath: masters, withIntermediateDirectories: true)
        url = try TestDatabase.create()
    }

    func writeMasters(seconds: Double = 40) throws {
        for (i, seed) in Self.seeds.enumerated() {
            let audio = GeneratedMusic.track(seed: seed, seconds: seconds, sampleRate: Self.rate)
            try AudioWriter.write(audio, sampleRate: Self.rate, channels: 1, to: "\(masters)/m\(i).\(["flac", "wav", "ogg", "mp3"][i])")
        }
    }

    func count(_ sql: String) throws -> Int64 {
        try PostgresConnection(connectionString: url).query(sql).rows[0][0].int ?? -1
    }

    struct MatchLine: Decodable {
        struct Found: Decodable {
            let track_id: Int
            let source_path: String
            let title: String?
            let offset_s: Double
            let score: Int
        }
        let file: String
        let match: Found?
    }

    func match(_ files: [String]) throws -> [MatchLine] {
        let result = try CLI.run(["match", "--json", "--database-url", url] + files)
        #expect(result.status == 0, "\(result.stderr)")
        return try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(MatchLine.self, from: Data($0.utf8)) }
    }

    @Test func excerptsMatchTheirMasterAtTheRightOffset() throws {
        try writeMasters()
        try "file,title,artist,album,isrc\nm0.flac,First Song,Some Artist,,ZZ-TMK-26-00001\n"
            .write(toFile: directory + "/meta.csv", atomically: true, encoding: .utf8)
        let ingest = try CLI.run(["ingest", masters, "--jobs", "2", "--metadata", directory + "/meta.csv", "--database-url", url])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stdout.contains("added 4, skipped 0, failed 0"), "\(ingest.stdout)")
        #expect(try count("SELECT count(*) FROM tracks WHERE title = 'First Song' AND isrc = 'ZZTMK2600001'") == 1)

        // A 5 s clean excerpt of each master at an odd offset, and a 10 s noisy one (15 dB SNR,
        // Ogg) of the lossless masters. Robustness is measured by tools/bench and tools/eval.
        var clips: [(file: String, master: Int, offset: Double)] = []
        for (i, seed) in Self.seeds.enumerated() {
            let audio = GeneratedMusic.track(seed: seed, seconds: 40, sampleRate: Self.rate)
            let start = 3.37 + Double(i) * 6.1
            let clean = directory + "/clip\(i).wav"
            try AudioWriter.write(GeneratedMusic.excerpt(audio, sampleRate: Self.rate, start: start, seconds: 5), sampleRate: Self.rate, channels: 1, to: clean)
            clips.append((clean, i, start))
            guard i < 2 else { continue }
            let noisy = directory + "/noisy\(i).ogg"
            let excerpt = GeneratedMusic.excerpt(audio, sampleRate: Self.rate, start: start + 1, seconds: 10)
            try AudioWriter.write(GeneratedMusic.withNoise(excerpt, snr: 15, seed: seed).map { $0 * 0.7 }, sampleRate: Self.rate, channels: 1, to: noisy)
            clips.append((noisy, i, start + 1))
        }
        let answers = try match(clips.map(\.file))
        #expect(answers.count == clips.count)
        for (clip, answer) in zip(clips, answers) {
            let found = try #require(answer.match, "\(clip.file) not matched")
            #expect(found.source_path.hasSuffix("/m\(clip.master)." + ["flac", "wav", "ogg", "mp3"][clip.master]), "\(clip.file)")
            // Lossy masters (ogg, mp3) may carry encoder delay of a few ms.
            #expect(abs(found.offset_s - clip.offset) < 0.1, "\(clip.file): offset \(found.offset_s), expected \(clip.offset)")
        }
        #expect(answers[0].match?.title == "First Song")

        // An excerpt of music that was never ingested matches nothing.
        let unrelated = directory + "/unrelated.wav"
        try AudioWriter.write(GeneratedMusic.excerpt(GeneratedMusic.track(seed: 999, seconds: 20, sampleRate: Self.rate), sampleRate: Self.rate, start: 5, seconds: 5),
                              sampleRate: Self.rate, channels: 1, to: unrelated)
        #expect(try match([unrelated]).first?.match == nil)

        // Ingesting again adds nothing.
        let hashes = try count("SELECT count(*) FROM fingerprints")
        let again = try CLI.run(["ingest", masters, "--database-url", url])
        #expect(again.status == 0)
        #expect(again.stdout.contains("added 0, skipped 4, failed 0"), "\(again.stdout)")
        #expect(try count("SELECT count(*) FROM tracks") == 4)
        #expect(try count("SELECT count(*) FROM fingerprints") == hashes)
    }

    @Test func corruptFileFailsAloneAndLeavesNoRow() throws {
        try writeMasters(seconds: 10)
        try Data("RIFF\u{0}\u{0}\u{0}\u{0}WAVEjunk".utf8).write(to: URL(fileURLWithPath: masters + "/broken.wav"))
        _ = FileManager.default.createFile(atPath: masters + "/empty.flac", contents: Data())
        // Hidden files and folders (files still being written, say) are not read at all.
        try FileManager.default.createDirectory(atPath: masters + "/.rendering", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: masters + "/.rendering/half.wav", contents: Data("RIFF".utf8))
        _ = FileManager.default.createFile(atPath: masters + "/.half.flac", contents: Data())
        let result = try CLI.run(["ingest", masters, "--database-url", url])
        #expect(!result.stderr.contains("half"), "\(result.stderr)")
        #expect(result.status == 1)
        #expect(result.stderr.contains("broken.wav"), "\(result.stderr)")
        #expect(result.stderr.contains("empty.flac"), "\(result.stderr)")
        #expect(result.stdout.contains("added 4, skipped 0, failed 2"), "\(result.stdout)")
        #expect(try count("SELECT count(*) FROM tracks") == 4)
        #expect(try count("SELECT count(*) FROM tracks WHERE source_path LIKE '%broken%' OR source_path LIKE '%empty%'") == 0)
    }

    @Test func badMetadataSidecarStopsBeforeWriting() throws {
        try writeMasters(seconds: 5)
        try "file,title,isrc\nm0.flac,X,123\n".write(toFile: directory + "/bad.csv", atomically: true, encoding: .utf8)
        let result = try CLI.run(["ingest", masters, "--metadata", directory + "/bad.csv", "--database-url", url])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bad.csv:2"), "\(result.stderr)")
        #expect(try count("SELECT count(*) FROM tracks") == 0)
    }

    /// SIGKILL at several moments of an ingest: every stored track has all its hashes and no
    /// hash belongs to a missing track; a rerun then completes the catalog exactly once.
    @Test func killedIngestLeavesNoPartialTrack() throws {
        for (i, seed) in (100..<106).enumerated() {
            let audio = GeneratedMusic.track(seed: UInt64(seed), seconds: 45, sampleRate: Self.rate)
            try AudioWriter.write(audio, sampleRate: Self.rate, channels: 1, to: "\(masters)/k\(i).flac")
        }
        func checkConsistent() throws {
            #expect(try count("""
                SELECT count(*) FROM tracks t
                WHERE t.hash_count <> (SELECT count(*) FROM fingerprints f WHERE f.track_id = t.id)
                """) == 0)
            #expect(try count("SELECT count(*) FROM fingerprints f WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = f.track_id)") == 0)
        }
        for delay in [0.3, 0.9, 1.6] {
            let (process, _, _) = try CLI.start(["ingest", masters, "--jobs", "2", "--database-url", url])
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try checkConsistent()
        }
        let rerun = try CLI.run(["ingest", masters, "--database-url", url])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try count("SELECT count(*) FROM tracks") == 6)
        #expect(try count("SELECT count(DISTINCT content_sha256) FROM tracks") == 6)
        try checkConsistent()
    }
}
