import Foundation

/// What the rules say about one use of one recording, and why.
public struct Decision: Equatable, Sendable {
    public let action: Action
    public let reason: String
    /// The policy version that decided; nil when the default policy did.
    public let policyID: Int32?
    public let policyVersion: Int32?
    public let holder: String?
    /// For `replace`: what to do when no acceptable replacement can be made.
    public let replaceFallback: Action?

    public init(action: Action, reason: String, policyID: Int32? = nil, policyVersion: Int32? = nil,
                holder: String? = nil, replaceFallback: Action? = nil) {
        self.action = action
        self.reason = reason
        self.policyID = policyID
        self.policyVersion = policyVersion
        self.holder = holder
        self.replaceFallback = replaceFallback
    }
}

/// Decides a use of a recording from the policy versions in force for it. Pure: the caller
/// picks the versions recorded at or before the time asked about.
///
/// Within one holder's policy, a rule naming the territory beats a worldwide rule, and among
/// rules equally specific the strictest wins. Across holders the strictest decision wins: every
/// holder of a share of a recording can refuse. No rule covering the use, territory and time
/// leaves the recording to the default policy.
public enum PolicyEvaluator {
    public static func decide(_ use: Use, territory: String, at time: Date, policies: [PolicyVersion],
                              default fallback: DefaultPolicy) -> Decision {
        var best: Decision?
        for policy in policies.sorted(by: { $0.policyID < $1.policyID }) {
            let applicable = policy.rules.filter { $0.isValid(at: time) && $0.territories.contains(territory) && $0.actions[use] != nil }
            let specific = applicable.filter { $0.territories != .worldwide }
            guard let rule = (specific.isEmpty ? applicable : specific).max(by: { ($0.actions[use] ?? .allow) < ($1.actions[use] ?? .allow) }),
                  let action = rule.actions[use] else { continue }
            let decision = Decision(
                action: action,
                reason: "policy \(policy.policyID) v\(policy.version) of \(policy.holder): \(use.rawValue) in \(rule.territories == .worldwide ? "WW (worldwide)" : territory) is \(action.rawValue)",
                policyID: policy.policyID, policyVersion: policy.version, holder: policy.holder,
                replaceFallback: action == .replace ? rule.replaceFallback : nil)
            if best.map({ decision.action > $0.action }) ?? true { best = decision }
        }
        if let best { return best }
        let action = fallback.action(for: use)
        return Decision(action: action, reason: "no policy covers \(use.rawValue) in \(territory) at \(ISO8601DateFormatter().string(from: time)); the default policy says \(action.rawValue)")
    }

    /// The overall action of several segments: the strictest.
    public static func strictest(_ actions: [Action]) -> Action { actions.max() ?? .allow }
}
