import Foundation

/// What someone wants to do with a recording.
public enum Use: String, CaseIterable, Codable, Sendable {
    case stream, remix, cover, sample, sync
}

/// What a policy lets happen for a use, from most to least permissive. Strictest wins when
/// several policies or segments disagree.
public enum Action: String, CaseIterable, Codable, Sendable, Comparable {
    /// Go ahead.
    case allow
    /// Go ahead, attributed to (and monetised for) the rights holder.
    case claim
    /// Take the master's recording out of the segment and fill it with new material.
    case replace
    /// Refuse.
    case block

    var strictness: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (a: Action, b: Action) -> Bool { a.strictness < b.strictness }
}

/// Where a rule applies: a set of ISO 3166-1 alpha-2 codes, or everywhere.
public enum TerritorySet: Equatable, Sendable, Codable {
    case worldwide
    case only(Set<String>)

    public func contains(_ territory: String) -> Bool {
        switch self {
        case .worldwide: return true
        case let .only(codes): return codes.contains(territory)
        }
    }

    /// Parses "WW" / "worldwide", or codes separated by spaces, commas, semicolons or bars.
    public init(parsing text: String) throws {
        let words = text.uppercased().split(whereSeparator: { " ,;|".contains($0) }).map(String.init)
        guard !words.isEmpty else { throw PolicyError.invalid("territories is empty: give ISO 3166-1 alpha-2 codes (SE NO) or WW for worldwide") }
        if words.contains("WW") || words.contains("WORLDWIDE") {
            guard words.count == 1 else { throw PolicyError.invalid("territories: WW (worldwide) cannot be combined with other codes") }
            self = .worldwide
            return
        }
        if let bad = words.first(where: { !Territories.isAssigned($0) }) {
            throw PolicyError.invalid("territory '\(bad)' is not an ISO 3166-1 alpha-2 code")
        }
        self = .only(Set(words))
    }

    /// "WW", or the codes in order.
    public var text: String {
        switch self {
        case .worldwide: return "WW"
        case let .only(codes): return codes.sorted().joined(separator: " ")
        }
    }

    public init(from decoder: any Decoder) throws {
        self = try TerritorySet(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// One line of a policy: in these territories, during this window, each covered use gets its action.
public struct Rule: Equatable, Sendable, Codable {
    public var territories: TerritorySet
    /// Inclusive start and exclusive end; nil is unbounded.
    public var validFrom: Date?
    public var validUntil: Date?
    /// Uses not listed are not covered by this rule.
    public var actions: [Use: Action]
    /// What a `replace` becomes when no acceptable replacement can be made.
    public var replaceFallback: Action

    public init(territories: TerritorySet, validFrom: Date? = nil, validUntil: Date? = nil,
                actions: [Use: Action], replaceFallback: Action = .block) {
        self.territories = territories
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.actions = actions
        self.replaceFallback = replaceFallback
    }

    public func isValid(at time: Date) -> Bool {
        (validFrom.map { time >= $0 } ?? true) && (validUntil.map { time < $0 } ?? true)
    }

    enum CodingKeys: String, CodingKey { case territories, valid_from, valid_until, actions, replace_fallback }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        territories = try c.decode(TerritorySet.self, forKey: .territories)
        validFrom = try c.decodeIfPresent(Date.self, forKey: .valid_from)
        validUntil = try c.decodeIfPresent(Date.self, forKey: .valid_until)
        let raw = try c.decode([String: Action].self, forKey: .actions)
        actions = Dictionary(uniqueKeysWithValues: try raw.map { key, value in
            guard let use = Use(rawValue: key) else { throw PolicyError.invalid("unknown use '\(key)'") }
            return (use, value)
        })
        replaceFallback = try c.decodeIfPresent(Action.self, forKey: .replace_fallback) ?? .block
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(territories, forKey: .territories)
        try c.encode(validFrom, forKey: .valid_from)
        try c.encode(validUntil, forKey: .valid_until)
        try c.encode(Dictionary(uniqueKeysWithValues: actions.map { ($0.key.rawValue, $0.value) }), forKey: .actions)
        try c.encode(replaceFallback, forKey: .replace_fallback)
    }
}

/// A holder's policy for one recording as it stood from `recordedAt` on: every version is kept.
public struct PolicyVersion: Equatable, Sendable {
    public let policyID: Int32
    public let holder: String
    public let version: Int32
    public let recordedAt: Date
    public let rules: [Rule]

    public init(policyID: Int32, holder: String, version: Int32, recordedAt: Date, rules: [Rule]) {
        self.policyID = policyID
        self.holder = holder
        self.version = version
        self.recordedAt = recordedAt
        self.rules = rules
    }
}

/// The action for each use of a recording no policy covers.
public struct DefaultPolicy: Equatable, Sendable {
    public var actions: [Use: Action]

    public init(actions: [Use: Action]) { self.actions = actions }

    /// Catalog recordings with no rights on file: streaming and covers are claimed for whoever
    /// turns out to hold them; derived works that reuse the recording are refused until someone does.
    public static let standard = DefaultPolicy(actions: [.stream: .claim, .cover: .claim, .remix: .block, .sample: .block, .sync: .block])

    public func action(for use: Use) -> Action { actions[use] ?? .block }
}

public enum PolicyError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalid(String)
    public var description: String {
        switch self { case let .invalid(message): return message }
    }
}
