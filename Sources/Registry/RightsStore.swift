import Foundation
import Rights

/// What a policy is about: a track by id, a recording by ISRC, or a file by content SHA-256.
public struct PolicyTarget: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable { case track, isrc, content }
    public let kind: Kind
    public let value: String

    public init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }

    public var description: String { "\(kind.rawValue) \(value)" }

    /// Every target naming this track.
    static func all(for track: Track) -> [PolicyTarget] {
        [PolicyTarget(kind: .track, value: String(track.id)), PolicyTarget(kind: .content, value: track.contentSHA256)]
            + (track.isrc.map { [PolicyTarget(kind: .isrc, value: $0)] } ?? [])
    }
}

/// The new content of one holder's policy for one target, as an import file states it.
public struct PolicyChange: Sendable, Equatable {
    public let target: PolicyTarget
    public let holder: String
    public let rules: [Rule]
    /// Where the change came from, for messages ("catalog.csv:12").
    public let origin: String

    public init(target: PolicyTarget, holder: String, rules: [Rule], origin: String) {
        self.target = target
        self.holder = holder
        self.rules = rules
        self.origin = origin
    }
}

/// A policy version together with what it is attached to.
public struct StoredPolicy: Sendable, Equatable {
    public let target: PolicyTarget
    public let version: PolicyVersion
}

public struct ImportSummary: Sendable, Equatable {
    /// Policies seen for the first time, new versions of existing ones, and changes identical to
    /// the version already in force (which add nothing).
    public var created = 0
    public var versioned = 0
    public var unchanged = 0

    public init(created: Int = 0, versioned: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.versioned = versioned
        self.unchanged = unchanged
    }
}

/// A recorded verification.
public struct VerificationRecord: Sendable, Equatable {
    public let id: Int64
    public let requestedAt: Date
    public let peerUID: Int32?
    public let peerGID: Int32?
    public let peerPID: Int32?
    public let use: String
    public let territory: String
    public let evaluatedAt: Date
    public let audioSHA256: String
    public let decision: String
    /// The segments as recorded (JSON).
    public let segmentsJSON: String
}

public enum RightsImportError: Error, CustomStringConvertible, Sendable {
    /// Every problem found, each naming its place in the file; nothing was written.
    case rejected([String])

    public var description: String {
        switch self {
        case let .rejected(problems): return "nothing imported; \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n  " + problems.joined(separator: "\n  ")
        }
    }
}

/// Rights holders, versioned policies and verifications.
public struct RightsStore: Sendable {
    private let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// Applies every change in one transaction, or none: any problem (a track id not in the
    /// catalog) rolls everything back and is reported with the others. With `dryRun` the
    /// transaction is rolled back after counting what it would do.
    public func apply(_ changes: [PolicyChange], source: String, dryRun: Bool) throws -> ImportSummary {
        try db.execute("BEGIN")
        do {
            let summary = try applyInTransaction(changes, source: source)
            try db.execute(dryRun ? "ROLLBACK" : "COMMIT")
            return summary
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// `apply` for a caller that holds the transaction (ingest stores a track and its rights together).
    /// Runs as the history role: policies only ever gain versions.
    public func applyInTransaction(_ changes: [PolicyChange], source: String) throws -> ImportSummary {
        try HistoryWriter.run(db) { try applyAsHistoryWriter(changes, source: source) }
    }

    private func applyAsHistoryWriter(_ changes: [PolicyChange], source: String) throws -> ImportSummary {
        var summary = ImportSummary()
        var problems: [String] = []
        for change in changes {
            if change.target.kind == .track {
                guard let id = Int32(change.target.value),
                      try !db.query("SELECT 1 FROM tracks WHERE id = $1", [.int32(id)]).rows.isEmpty else {
                    problems.append("\(change.origin): no track with id \(change.target.value) in the catalog")
                    continue
                }
            }
            let rules = String(decoding: try Self.encoder.encode(change.rules), as: UTF8.self)
            let holder = try db.query("""
                WITH inserted AS (INSERT INTO rights_holders (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id)
                SELECT id FROM inserted UNION ALL SELECT id FROM rights_holders WHERE name = $1
                """, [.text(change.holder)]).rows[0][0]
            let policy = try db.query("""
                WITH inserted AS (
                    INSERT INTO policies (target_kind, target, holder_id) VALUES ($1, $2, $3)
                    ON CONFLICT (target_kind, target, holder_id) DO NOTHING RETURNING id)
                SELECT id FROM inserted UNION ALL
                SELECT id FROM policies WHERE target_kind = $1 AND target = $2 AND holder_id = $3
                """, [.text(change.target.kind.rawValue), .text(change.target.value), .int32(Int32(holder.int ?? 0))]).rows[0][0]
            let policyID = Int32(policy.int ?? 0)
            let latest = try db.query("""
                SELECT version, rules::text FROM policy_versions WHERE policy_id = $1 ORDER BY version DESC LIMIT 1
                """, [.int32(policyID)])
            let version = Int32(latest.rows.first?[0].int ?? 0)
            if let current = latest.rows.first?[1].text,
               let currentRules = try? Self.decoder.decode([Rule].self, from: Data(current.utf8)), currentRules == change.rules {
                summary.unchanged += 1
                continue
            }
            try db.query("INSERT INTO policy_versions (policy_id, version, rules, source) VALUES ($1, $2, $3::jsonb, $4)",
                         [.int32(policyID), .int32(version + 1), .text(rules), .text(source)])
            if version == 0 { summary.created += 1 } else { summary.versioned += 1 }
        }
        guard problems.isEmpty else { throw RightsImportError.rejected(problems) }
        return summary
    }

    /// For each track, the version of every policy naming it that was in force at `time`.
    public func policiesInForce(for tracks: [Track], at time: Date) throws -> [Int32: [PolicyVersion]] {
        var byTarget: [PolicyTarget: [Int32]] = [:]
        for track in tracks {
            for target in PolicyTarget.all(for: track) { byTarget[target, default: []].append(track.id) }
        }
        guard !byTarget.isEmpty else { return [:] }
        let rows = try db.query("""
            SELECT p.target_kind, p.target, p.id, h.name, v.version, v.recorded_at, v.rules::text
            FROM policies p
            JOIN rights_holders h ON h.id = p.holder_id
            JOIN LATERAL (SELECT * FROM policy_versions v WHERE v.policy_id = p.id AND v.recorded_at <= $3
                          ORDER BY v.version DESC LIMIT 1) v ON true
            JOIN unnest($1::text[], $2::text[]) AS t(kind, value) ON p.target_kind = t.kind AND p.target = t.value
            """, [.textArray(byTarget.keys.map(\.kind.rawValue)), .textArray(byTarget.keys.map(\.value)), .timestamp(time)])
        var result: [Int32: [PolicyVersion]] = [:]
        for row in rows.rows {
            let stored = try Self.storedPolicy(row)
            for track in byTarget[stored.target] ?? [] { result[track, default: []].append(stored.version) }
        }
        return result
    }

    /// Every version of every policy naming the track, oldest first.
    public func history(for track: Track) throws -> [StoredPolicy] {
        let targets = PolicyTarget.all(for: track)
        let rows = try db.query("""
            SELECT p.target_kind, p.target, p.id, h.name, v.version, v.recorded_at, v.rules::text
            FROM policies p
            JOIN rights_holders h ON h.id = p.holder_id
            JOIN policy_versions v ON v.policy_id = p.id
            JOIN unnest($1::text[], $2::text[]) AS t(kind, value) ON p.target_kind = t.kind AND p.target = t.value
            ORDER BY v.recorded_at, p.id, v.version
            """, [.textArray(targets.map(\.kind.rawValue)), .textArray(targets.map(\.value))])
        return try rows.rows.map(Self.storedPolicy)
    }

    /// Records a verification; returns its id.
    public func recordVerification(peerUID: Int32?, peerGID: Int32?, peerPID: Int32?, use: String, territory: String,
                                   evaluatedAt: Date, audioSHA256: [UInt8], decision: String, segmentsJSON: String) throws -> Int64 {
        func optional(_ v: Int32?) -> PostgresParameter { v.map(PostgresParameter.int32) ?? .null }
        let row = try HistoryWriter.run(db) { try db.query("""
            INSERT INTO verifications (peer_uid, peer_gid, peer_pid, use, territory, evaluated_at, audio_sha256, decision, segments)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id
            """, [optional(peerUID), optional(peerGID), optional(peerPID), .text(use), .text(territory), .timestamp(evaluatedAt),
                  .bytea(audioSHA256), .text(decision), .text(segmentsJSON)]) }
        guard let id = row.rows.first?[0].int else { throw RegistryError.decoding("INSERT ... RETURNING id gave no id") }
        return id
    }

    /// Verifications in id order after `after`, optionally only those with one decision.
    public func verifications(after: Int64, limit: Int, decision: String? = nil) throws -> [VerificationRecord] {
        let rows = try db.query("""
            SELECT id, requested_at, peer_uid, peer_gid, peer_pid, use, territory, evaluated_at, audio_sha256, decision, segments::text
            FROM verifications WHERE id > $1 AND ($3::text IS NULL OR decision = $3)
            ORDER BY id LIMIT $2
            """, [.int64(after), .int32(Int32(clamping: limit)), decision.map(PostgresParameter.text) ?? .null])
        return try rows.rows.map { row in
            guard let id = row[0].int, let requested = row[1].date, let evaluated = row[7].date, let sha = row[8].bytes else {
                throw RegistryError.decoding("incomplete verifications row")
            }
            return VerificationRecord(id: id, requestedAt: requested, peerUID: row[2].int.map { Int32($0) },
                                      peerGID: row[3].int.map { Int32($0) }, peerPID: row[4].int.map { Int32($0) },
                                      use: row[5].text ?? "", territory: row[6].text ?? "", evaluatedAt: evaluated,
                                      audioSHA256: sha.map { String(format: "%02x", $0) }.joined(),
                                      decision: row[9].text ?? "", segmentsJSON: row[10].text ?? "[]")
        }
    }

    private static func storedPolicy(_ row: [PostgresValue]) throws -> StoredPolicy {
        guard let kindText = row[0].text, let kind = PolicyTarget.Kind(rawValue: kindText), let value = row[1].text,
              let id = row[2].int, let holder = row[3].text, let version = row[4].int, let recorded = row[5].date,
              let rulesText = row[6].text else {
            throw RegistryError.decoding("incomplete policy row")
        }
        let rules: [Rule]
        do { rules = try decoder.decode([Rule].self, from: Data(rulesText.utf8)) } catch {
            throw RegistryError.decoding("policy \(id) version \(version) has unreadable rules: \(error)")
        }
        return StoredPolicy(target: PolicyTarget(kind: kind, value: value),
                            version: PolicyVersion(policyID: Int32(id), holder: holder, version: Int32(version), recordedAt: recorded, rules: rules))
    }
}
