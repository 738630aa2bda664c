import Foundation
import Rights
import Testing

@Suite struct PolicyEvaluatorTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let day: TimeInterval = 86_400

    static func policy(_ id: Int32, _ holder: String, version: Int32 = 1, _ rules: [Rule]) -> PolicyVersion {
        PolicyVersion(policyID: id, holder: holder, version: version, recordedAt: t0 - 30 * day, rules: rules)
    }

    static let nordic = try! TerritorySet(parsing: "SE NO DK")
    static let label = policy(1, "Label", [
        Rule(territories: .worldwide, actions: [.stream: .claim, .remix: .block]),
        Rule(territories: nordic, validFrom: t0, validUntil: t0 + 10 * day, actions: [.remix: .allow, .cover: .replace],
             replaceFallback: .claim),
    ])
    static let publisher = policy(2, "Publisher", [Rule(territories: .worldwide, actions: [.cover: .claim, .stream: .allow])])

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let use: Use
        let territory: String
        let at: Date
        let policies: [PolicyVersion]
        let expected: Action
        let decidedBy: Int32?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "worldwide rule outside the nordic window", use: .remix, territory: "US", at: t0, policies: [label], expected: .block, decidedBy: 1),
        Case(name: "a territory rule beats the worldwide one inside it", use: .remix, territory: "SE", at: t0, policies: [label], expected: .allow, decidedBy: 1),
        Case(name: "the window starts inclusive", use: .remix, territory: "NO", at: t0, policies: [label], expected: .allow, decidedBy: 1),
        Case(name: "before the window the worldwide rule applies", use: .remix, territory: "NO", at: t0 - 1, policies: [label], expected: .block, decidedBy: 1),
        Case(name: "the window ends exclusive", use: .remix, territory: "DK", at: t0 + 10 * day, policies: [label], expected: .block, decidedBy: 1),
        Case(name: "a use no rule covers falls to the default", use: .sync, territory: "SE", at: t0, policies: [label], expected: .block, decidedBy: nil),
        Case(name: "the default claims covers", use: .cover, territory: "US", at: t0, policies: [label], expected: .claim, decidedBy: nil),
        Case(name: "no policy at all is the default", use: .stream, territory: "FR", at: t0, policies: [], expected: .claim, decidedBy: nil),
        Case(name: "strictest holder wins: replace over claim", use: .cover, territory: "SE", at: t0 + day, policies: [label, publisher], expected: .replace, decidedBy: 1),
        Case(name: "strictest holder wins: claim over allow", use: .stream, territory: "SE", at: t0, policies: [label, publisher], expected: .claim, decidedBy: 1),
        Case(name: "one holder's rule suffices where the other is silent", use: .cover, territory: "US", at: t0, policies: [label, publisher], expected: .claim, decidedBy: 2),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        let decision = PolicyEvaluator.decide(c.use, territory: c.territory, at: c.at, policies: c.policies, default: .standard)
        #expect(decision.action == c.expected, "\(decision.reason)")
        #expect(decision.policyID == c.decidedBy)
        #expect(decision.reason.contains(c.use.rawValue))
    }

    @Test func replaceCarriesItsFallback() {
        let decision = PolicyEvaluator.decide(.cover, territory: "SE", at: Self.t0, policies: [Self.label], default: .standard)
        #expect(decision.action == .replace && decision.replaceFallback == .claim)
        #expect(decision.policyVersion == 1 && decision.holder == "Label")
    }

    @Test func theStrictestSegmentDecidesTheWhole() {
        #expect(PolicyEvaluator.strictest([.allow, .claim, .allow]) == .claim)
        #expect(PolicyEvaluator.strictest([.claim, .block, .replace]) == .block)
        #expect(PolicyEvaluator.strictest([]) == .allow)
    }

    @Test func territoriesAreParsedAndChecked() throws {
        #expect(try TerritorySet(parsing: "ww") == .worldwide)
        #expect(try TerritorySet(parsing: "se;no, DK") == .only(["SE", "NO", "DK"]))
        #expect(throws: PolicyError.self) { try TerritorySet(parsing: "SE XX") }
        #expect(throws: PolicyError.self) { try TerritorySet(parsing: "WW SE") }
        #expect(throws: PolicyError.self) { try TerritorySet(parsing: " ") }
    }

    @Test func rulesRoundTripThroughJSON() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let rules = Self.label.rules
        #expect(try decoder.decode([Rule].self, from: encoder.encode(rules)) == rules)
    }
}
