import ArgumentParser
import Daemon
import Foundation
import Registry
import Rights

struct RightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rights",
        abstract: "Import, show and trace the rights attached to recordings.",
        discussion: """
            Policies say, per rights holder, what each use of a recording (stream, remix, cover, \
            sample, sync) gets in which territories and when: allow, claim, replace or block. \
            Every change adds a version; nothing is overwritten. docs/rights.md documents the \
            file format and the decision rules.
            """,
        subcommands: [RightsImportCommand.self, RightsShowCommand.self, RightsHistoryCommand.self])
}

struct RightsImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import policies from a CSV or JSON file, all or nothing.",
        discussion: """
            One rule per row: exactly one of track_id, isrc, content_sha256; holder; territories \
            (ISO 3166-1 alpha-2 codes, or WW); optional valid_from and valid_until; an action per \
            use column (stream, remix, cover, sample, sync; empty means the rule does not cover \
            it); optional replace_fallback. Rows for the same recording and holder form that \
            holder's new policy version. The whole file applies in one transaction; any bad row \
            rejects it, and every bad row is reported with its line.

            Examples:
              tracemark rights import rights.csv --dry-run
              tracemark rights import rights.json
            """)

    @Argument(help: ArgumentHelp("CSV or JSON rights file.", valueName: "file"))
    var file: String

    @Flag(help: "Validate and count what would change, then roll back.")
    var dryRun = false

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let parsed: RightsFile
        do { parsed = try RightsFile(path: file) } catch { throw ValidationFailure("\(error)") }
        try registry.withDatabase { db in
            let summary = try RightsStore(db).apply(parsed.changes, source: file, dryRun: dryRun)
            print("\(dryRun ? "dry run, nothing written: would create" : "created") \(summary.created) policies, "
                  + "\(dryRun ? "add" : "added") \(summary.versioned) new versions, \(summary.unchanged) unchanged")
        }
    }
}

struct TrackArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("Track id, ISRC or content SHA-256.", valueName: "track"))
    var track: String

    @OptionGroup var registry: RegistryOptions

    func resolve(_ body: (Track, PostgresConnection) throws -> Void) throws {
        try registry.withDatabase { db in
            guard let found = try Catalog(db).track(named: track) else {
                throw ValidationFailure("no track with id, ISRC or content SHA-256 '\(track)' in the catalog")
            }
            try body(found, db)
        }
    }
}

struct RightsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "The policies in force for a recording now, and the default.",
        discussion: "Example:\n  tracemark rights show USRC17607839")

    @OptionGroup var track: TrackArgument

    func run() throws {
        try track.resolve { found, db in
            print(describe(found))
            let policies = try RightsStore(db).policiesInForce(for: [found], at: Date())[found.id] ?? []
            if policies.isEmpty { print("  no policy; the default applies") }
            for policy in policies.sorted(by: { $0.policyID < $1.policyID }) { print(describe(policy)) }
        }
    }
}

struct RightsHistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Every version of every policy naming a recording, oldest first.",
        discussion: "Example:\n  tracemark rights history 42")

    @OptionGroup var track: TrackArgument

    func run() throws {
        try track.resolve { found, db in
            print(describe(found))
            let history = try RightsStore(db).history(for: found)
            if history.isEmpty { print("  no policy was ever recorded") }
            for stored in history { print(describe(stored.version) + "  (by \(stored.target))") }
        }
    }
}

func describe(_ track: Track) -> String {
    let name = [track.title, track.artist].compactMap { $0 }.joined(separator: " - ")
    return "track \(track.id)\(name.isEmpty ? "" : " \(name)")\(track.isrc.map { " [\($0)]" } ?? ""): \(track.sourcePath)"
}

func describe(_ policy: PolicyVersion) -> String {
    let formatter = ISO8601DateFormatter()
    var lines = ["  policy \(policy.policyID) v\(policy.version) of \(policy.holder), recorded \(formatter.string(from: policy.recordedAt))"]
    if policy.rules.isEmpty { lines.append("    withdrawn: covers nothing") }
    for rule in policy.rules {
        let window = "\(rule.validFrom.map(formatter.string) ?? "always") .. \(rule.validUntil.map(formatter.string) ?? "open")"
        let actions = Use.allCases.compactMap { use in rule.actions[use].map { "\(use.rawValue)=\($0.rawValue)" } }.joined(separator: " ")
        let fallback = rule.actions.values.contains(.replace) ? " (replace falls back to \(rule.replaceFallback.rawValue))" : ""
        lines.append("    \(rule.territories.text)  \(window)  \(actions.isEmpty ? "covers nothing" : actions)\(fallback)")
    }
    return lines.joined(separator: "\n")
}
