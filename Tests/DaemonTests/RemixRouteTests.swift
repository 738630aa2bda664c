import Audio
import Daemon
import Foundation
import Registry
import Rights
import TestSupport
import Testing
import Watermark

/// `POST /v1/remix` end to end: a remix holding three masters whose policies say claim, replace
/// and (elsewhere) block, through rendering, verification, replacement, the watermark and the ledger.
@Suite struct RemixRouteTests {
    static let claimed: UInt64 = 101, replaced: UInt64 = 202, unknown: UInt64 = 999
    static let seconds = 30.0

    func report(_ reply: DaemonClient.Reply) throws -> RemixReport {
        let header = try #require(reply.header("Tracemark-Report"))
        #expect(OpenAPIDocument.shared.problems(json: Data(header.utf8), schema: "RemixReport").isEmpty)
        return try RunningDaemon.decoder.decode(RemixReport.self, from: Data(header.utf8))
    }

    func matches(_ daemon: RunningDaemon, _ samples: [Float]) async throws -> [Int32] {
        let reply = try await daemon.call("POST", "/v1/match?top=5", route: "/v1/match", body: try TestCatalog.wav(samples))
        return try RunningDaemon.decoder.decode(MatchAnswer.self, from: Data(reply.body)).matches.map(\.track_id)
    }

    func ledgerCount(_ url: String) throws -> Int { try Ledger(PostgresConnection(connectionString: url)).rows().count }

    @Test func aReplaceStretchIsReplacedTheRestKeptAndTheLedgerNamesWhatWasReplaced() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: [Self.claimed, Self.replaced], seconds: Self.seconds, databaseURL: url)
        let db = try PostgresConnection(connectionString: url)
        _ = try RightsStore(db).apply([
            PolicyChange(target: PolicyTarget(kind: .track, value: String(ids[0])), holder: "Label A",
                         rules: [Rule(territories: .worldwide, actions: [.remix: .claim])], origin: "test"),
            PolicyChange(target: PolicyTarget(kind: .track, value: String(ids[1])), holder: "Label B",
                         rules: [Rule(territories: try TerritorySet(parsing: "SE"), actions: [.remix: .replace])], origin: "test"),
        ], source: "test", dryRun: false)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let (keys, auditor) = try daemon.makeKeys()

        // 10 s of the claimed master, 10 s of the replaced one, 10 s more of the claimed one.
        let rate = TestCatalog.rate
        let a = GeneratedMusic.track(seed: Self.claimed, seconds: Self.seconds, sampleRate: rate)
        let b = GeneratedMusic.track(seed: Self.replaced, seconds: Self.seconds, sampleRate: rate)
        let mix = GeneratedMusic.excerpt(a, sampleRate: rate, start: 2, seconds: 10) + GeneratedMusic.excerpt(b, sampleRate: rate, start: 5, seconds: 10)
            + GeneratedMusic.excerpt(a, sampleRate: rate, start: 15, seconds: 10)
        let body = try TestCatalog.wav(mix)

        let reply = try await daemon.call("POST", "/v1/remix?territory=SE&seed=5", route: "/v1/remix", body: body)
        try #require(reply.status == 200, "\(reply.text)")
        let report = try report(reply)
        #expect(report.released && report.decision == .replace && report.serial.map(String.init) == reply.header("Tracemark-Serial"))
        #expect(report.segments.map(\.outcome) == [.kept, .replaced, .kept], "\(report.segments)")
        let replacement = try #require(report.segments.first { $0.outcome == .replaced }?.replacement)
        #expect(replacement.accepted && replacement.start_s > 8.5 && replacement.start_s < 10.5 && replacement.end_s > 19.5 && replacement.end_s < 21.5)
        #expect(report.sources.map(\.track_id) == [ids[0]])

        // Same length and rate; the replaced master is gone from its stretch, the neighbours still match theirs.
        let (released, _) = try AudioDecoder.decodeMultichannel(bytes: reply.body, source: "reply")
        #expect(released.frameCount == mix.count && released.sampleRate == rate)
        let out = released.channels[0]
        func slice(_ from: Double, _ to: Double) -> [Float] { Array(out[Int(from * Double(rate))..<Int(to * Double(rate))]) }
        #expect(!(try await matches(daemon, slice(replacement.start_s, replacement.end_s))).contains(ids[1]))
        #expect(try await matches(daemon, slice(0, 8)).first == ids[0])
        #expect(try await matches(daemon, slice(22, 30)).first == ids[0])

        // The watermark leads back to a ledger row whose payload names the replaced stretch and its master.
        let detected = try await daemon.call("POST", "/v1/watermarks/detect", route: "/v1/watermarks/detect", body: reply.body)
        let answer = try RunningDaemon.decoder.decode(WatermarkDetectAnswer.self, from: Data(detected.body))
        #expect(answer.isValid && answer.serial == report.serial, "\(detected.text)")
        let serial = try #require(report.serial)
        let row = try #require(try Ledger(db).row(serial: serial))
        let payload = try Certificate(bytes: row.certificate).open(auditorKey: auditor, verifyingKey: keys.signing.publicKey)
        #expect(payload.replacements.map(\.trackID) == [Int64(ids[1])] && payload.replacements.first?.policyVersion == 1)
        #expect(payload.replacements.first.map { abs(Double($0.startMilliseconds) / 1000 - replacement.start_s) < 0.002 } == true)
        #expect(payload.sources == [SourceTrack(trackID: Int64(ids[0]), policyVersion: 1)])
        #expect(payload.verificationID == report.verification_id && payload.outputSHA256 == ContentDigest.sha256(reply.body))

        // Where the replaced master's remix use is not covered, the default policy blocks: 451, no ledger row.
        let rows = try ledgerCount(url)
        let refused = try await daemon.call("POST", "/v1/remix?territory=US", route: "/v1/remix", body: body)
        #expect(refused.status == 451, "\(refused.text)")
        let error = try RunningDaemon.decoder.decode(APIError.Body.self, from: Data(refused.body)).error
        #expect(error.code == "blocked" && error.report?.released == false && error.report?.serial == nil)
        #expect(error.report?.segments.map(\.outcome) == [.kept, .refused, .kept])
        #expect(try ledgerCount(url) == rows)
    }

    @Test func audioFromNoCatalogMasterPassesThroughMarkedOnly() async throws {
        let url = try TestDatabase.create()
        _ = try TestCatalog.store(seeds: [Self.claimed], seconds: 10, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        _ = try daemon.makeKeys()
        let song = GeneratedMusic.stereoChords(seed: 2, seconds: 12)
        let reply = try await daemon.call("POST", "/v1/remix?territory=se&output=wav", route: "/v1/remix",
                                   body: try AudioWriter.encode(song, as: AudioFileFormat(.wav)))
        try #require(reply.status == 200, "\(reply.text)")
        let report = try report(reply)
        #expect(report.segments.allSatisfy { $0.segment.track == nil && $0.outcome == .kept } && report.sources.isEmpty)
        let (released, _) = try AudioDecoder.decodeMultichannel(bytes: reply.body, source: "reply")
        // Only the mark changed it: at least 25 dB below the music.
        var signal = 0.0, difference = 0.0
        for c in 0..<2 {
            for i in 0..<song.frameCount {
                signal += Double(song.channels[c][i] * song.channels[c][i])
                let d = Double(released.channels[c][i] - song.channels[c][i])
                difference += d * d
            }
        }
        #expect(10 * log10(signal / difference) > 25)
    }

    @Test func badRemixRequestsAreRefusedBeforeAnythingIsWritten() async throws {
        let url = try TestDatabase.create()
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        _ = try daemon.makeKeys()
        let song = try GeneratedMusic.stereoWAV(seed: 1, seconds: 9)
        for (target, code) in [("/v1/remix", "bad_parameter"), ("/v1/remix?territory=SE&tempo=9", "bad_parameter"),
                               ("/v1/remix?territory=SE&style=polka", "unknown_style"),
                               ("/v1/remix?territory=SE&edit=%7B%22operations%22%3A%5B%7B%22op%22%3A%22gain%22%7D%5D%7D", "bad_edit"),
                               ("/v1/remix?territory=SE&trim=5:2", "bad_parameter"), ("/v1/remix?territory=SE&trim=0:4", "unsuitable_audio")] {
            let reply = try await daemon.call("POST", target, route: "/v1/remix", body: song)
            #expect(reply.status == 400, "\(target): \(reply.text)")
            #expect((try? RunningDaemon.decoder.decode(APIError.Body.self, from: Data(reply.body)))?.error.code == code, "\(target): \(reply.text)")
        }
        let verifications = try RightsStore(PostgresConnection(connectionString: url)).verifications(after: 0, limit: 10, decision: nil)
        #expect(verifications.isEmpty)
        #expect(try ledgerCount(url) == 0)
    }
}
