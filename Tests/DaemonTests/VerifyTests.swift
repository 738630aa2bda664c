import Audio
import Daemon
import Foundation
import Registry
import Rights
import TestSupport
import Testing

/// `POST /v1/verify` end to end: matching stretch by stretch, deciding under stored policies,
/// recording who asked.
@Suite struct VerifyTests {
    static let first: UInt64 = 101, second: UInt64 = 202, unknown: UInt64 = 999
    static let seconds = 30.0

    @Test func aQueryOfTwoMastersAndUnknownAudioGetsThreeSegmentsWithTheirActions() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: [Self.first, Self.second], seconds: Self.seconds, databaseURL: url)
        let db = try PostgresConnection(connectionString: url)
        let claimEverywhere = Rule(territories: .worldwide, actions: [.remix: .claim])
        let replaceInSweden = Rule(territories: try TerritorySet(parsing: "SE"), actions: [.remix: .replace], replaceFallback: .claim)
        _ = try RightsStore(db).apply([
            PolicyChange(target: PolicyTarget(kind: .track, value: String(ids[0])), holder: "Label A", rules: [claimEverywhere], origin: "test"),
            PolicyChange(target: PolicyTarget(kind: .track, value: String(ids[1])), holder: "Label B", rules: [replaceInSweden], origin: "test"),
        ], source: "test", dryRun: false)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }

        // 8 s of the first master from 5 s, 8 s of the second from 12 s, then 8 s of unknown music.
        let rate = TestCatalog.rate
        let a = GeneratedMusic.excerpt(GeneratedMusic.track(seed: Self.first, seconds: Self.seconds, sampleRate: rate), sampleRate: rate, start: 5, seconds: 8)
        let b = GeneratedMusic.excerpt(GeneratedMusic.track(seed: Self.second, seconds: Self.seconds, sampleRate: rate), sampleRate: rate, start: 12, seconds: 8)
        let c = GeneratedMusic.track(seed: Self.unknown, seconds: 8, sampleRate: rate)
        let query = try TestCatalog.wav(a + b + c)

        let reply = try await daemon.call("POST", "/v1/verify?use=remix&territory=se", route: "/v1/verify", body: query)
        #expect(reply.status == 200, "\(reply.text)")
        let answer = try RunningDaemon.decoder.decode(VerifyAnswer.self, from: Data(reply.body))
        try #require(answer.segments.count == 3, "\(reply.text)")
        let (s1, s2, s3) = (answer.segments[0], answer.segments[1], answer.segments[2])
        #expect(s1.track?.track_id == ids[0] && s1.action == .claim && s1.policy?.holder == "Label A")
        #expect(s2.track?.track_id == ids[1] && s2.action == .replace && s2.replace_fallback == .claim)
        #expect(s3.track == nil && s3.action == .allow && s3.policy == nil)
        #expect(abs((s1.track?.offset_s ?? 0) - 5) < 0.1 && abs((s2.track?.offset_s ?? 0) - (12 - 8)) < 0.1)
        #expect(s1.start_s == 0 && abs(s1.end_s - 8) < 1 && abs(s2.start_s - 8) < 1 && abs(s2.end_s - 16) < 1.5)
        #expect(abs(s3.end_s - 24) < 0.05)
        #expect(answer.decision == .replace && answer.territory == "SE")
        #expect(answer.audio_sha256 == ContentDigest.sha256(query).map { String(format: "%02x", $0) }.joined())

        // Outside Sweden the second master falls to the default policy for remixes: block.
        let elsewhere = try RunningDaemon.decoder.decode(VerifyAnswer.self, from: Data(
            try await daemon.call("POST", "/v1/verify?use=remix&territory=US", route: "/v1/verify", body: query).body))
        #expect(elsewhere.segments.map(\.action) == [.claim, .block, .allow] && elsewhere.decision == .block)

        // Both were recorded, with the asking process's credentials.
        let page = try RunningDaemon.decoder.decode(VerificationPage.self, from: Data(
            try await daemon.call("GET", "/v1/verifications?limit=10", route: "/v1/verifications").body))
        #expect(page.verifications.map(\.id) == [answer.verification_id, elsewhere.verification_id])
        #expect(page.verifications.allSatisfy { $0.peer_uid == Int32(bitPattern: getuid()) && $0.peer_pid == getpid() })
        #expect(page.verifications.first?.segments == answer.segments)
        let blocked = try RunningDaemon.decoder.decode(VerificationPage.self, from: Data(
            try await daemon.call("GET", "/v1/verifications?decision=block", route: "/v1/verifications").body))
        #expect(blocked.verifications.map(\.id) == [elsewhere.verification_id])
    }

    @Test func verifyNeedsAUseAndATerritory() async throws {
        let url = try TestDatabase.create()
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let clip = try TestCatalog.wav(GeneratedMusic.track(seed: 5, seconds: 3, sampleRate: TestCatalog.rate))
        for target in ["/v1/verify?territory=SE", "/v1/verify?use=dance&territory=SE", "/v1/verify?use=remix",
                       "/v1/verify?use=remix&territory=XX", "/v1/verify?use=remix&territory=SE&at=yesterday"] {
            let reply = try await daemon.call("POST", target, route: "/v1/verify", body: clip)
            #expect(reply.status == 400, "\(target)")
        }
        let history = try await daemon.call("GET", "/v1/verifications?decision=maybe", route: "/v1/verifications")
        #expect(history.status == 400)
    }
}
