import Foundation
import Registry
import Rights
import TestSupport
import Testing

@Suite struct RightsStoreTests {
    let db: PostgresConnection
    let track: Track

    init() throws {
        db = try PostgresConnection(connectionString: TestDatabase.create())
        let stored = try Catalog(db).store(NewTrack(sourcePath: "/m/a.wav", contentSHA256: [UInt8](repeating: 7, count: 32),
                                                    isrc: "ZZTMK2600042", duration: 60, sampleRate: 44100, channels: 2),
                                           landmarks: [], version: 1)
        guard case let .added(id) = stored, let track = try Catalog(db).tracks(ids: [id])[id] else {
            throw TestSetupError(message: "could not store the test track")
        }
        self.track = track
    }

    func change(_ target: PolicyTarget, _ holder: String, remix: Action) -> PolicyChange {
        PolicyChange(target: target, holder: holder, rules: [Rule(territories: .worldwide, actions: [.remix: remix])], origin: "test")
    }

    func count(_ table: String) throws -> Int64 { try db.query("SELECT count(*) FROM \(table)").rows[0][0].int ?? -1 }

    @Test func anUpdateAddsAVersionAndEarlierTimesStillSeeTheEarlierRule() throws {
        let byISRC = PolicyTarget(kind: .isrc, value: "ZZTMK2600042")
        #expect(try RightsStore(db).apply([change(byISRC, "Label", remix: .block)], source: "v1.csv", dryRun: false)
                == ImportSummary(created: 1, versioned: 0, unchanged: 0))
        Thread.sleep(forTimeInterval: 0.05)
        let between = Date()
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try RightsStore(db).apply([change(byISRC, "Label", remix: .allow)], source: "v2.csv", dryRun: false)
                == ImportSummary(created: 0, versioned: 1, unchanged: 0))
        #expect(try RightsStore(db).apply([change(byISRC, "Label", remix: .allow)], source: "v2.csv", dryRun: false)
                == ImportSummary(created: 0, versioned: 0, unchanged: 1))

        let then = try #require(try RightsStore(db).policiesInForce(for: [track], at: between)[track.id]?.first)
        #expect(then.version == 1 && then.rules.first?.actions[.remix] == .block)
        let now = try #require(try RightsStore(db).policiesInForce(for: [track], at: Date())[track.id]?.first)
        #expect(now.version == 2 && now.rules.first?.actions[.remix] == .allow)
        #expect(try RightsStore(db).policiesInForce(for: [track], at: between - 3600)[track.id] == nil)
        #expect(try RightsStore(db).history(for: track).map(\.version.version) == [1, 2])
    }

    @Test func policiesReachTheTrackByIdISRCAndContentHash() throws {
        let sha = String(repeating: "07", count: 32)
        _ = try RightsStore(db).apply([
            change(PolicyTarget(kind: .track, value: String(track.id)), "A", remix: .allow),
            change(PolicyTarget(kind: .isrc, value: "ZZTMK2600042"), "B", remix: .claim),
            change(PolicyTarget(kind: .content, value: sha), "C", remix: .block),
            change(PolicyTarget(kind: .isrc, value: "ZZTMK2699999"), "D", remix: .block),
        ], source: "t", dryRun: false)
        let holders = try RightsStore(db).policiesInForce(for: [track], at: Date())[track.id]?.map(\.holder).sorted()
        #expect(holders == ["A", "B", "C"])
    }

    @Test func aRejectedImportOrADryRunWritesNothing() throws {
        let good = change(PolicyTarget(kind: .isrc, value: "ZZTMK2600042"), "Label", remix: .claim)
        let missing = change(PolicyTarget(kind: .track, value: "424242"), "Label", remix: .claim)
        #expect { try RightsStore(db).apply([good, missing], source: "bad.csv", dryRun: false) } throws: { error in
            "\(error)".contains("no track with id 424242")
        }
        #expect(try RightsStore(db).apply([good], source: "dry.csv", dryRun: true).created == 1)
        #expect(try count("policy_versions") == 0 && count("policies") == 0 && count("rights_holders") == 0)
    }

    @Test func historyCannotBeRewritten() throws {
        _ = try RightsStore(db).apply([change(PolicyTarget(kind: .track, value: String(track.id)), "L", remix: .allow)],
                                      source: "t", dryRun: false)
        #expect(throws: RegistryError.self) { try db.execute("UPDATE policy_versions SET rules = '[]'") }
        #expect(throws: RegistryError.self) { try db.execute("DELETE FROM policy_versions") }
        #expect(try count("policy_versions") == 1)
    }
}
