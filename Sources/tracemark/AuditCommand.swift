import ArgumentParser
import Audio
import Daemon
import Foundation
import Registry
import Watermark

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Inspect and check the watermark ledger.",
        discussion: """
            Every issued watermark is a row of an append-only ledger; each row holds the SHA-256 of \
            the row before it and the registry's Ed25519 signature, so an inserted, altered or \
            removed row breaks the chain. `show` and `detect` check one row and its certificate \
            against the signing keys in <data-dir>/keys (current and retired) and, given the \
            auditor's private key, decrypt the payload: who asked, for what, from which masters, \
            and the SHA-256 of the audio that went in and came out.

            Examples:
              tracemark audit log
              tracemark audit verify
              tracemark audit show 42 --auditor-key /media/usb/auditor.pem
              tracemark audit detect found-online.mp3 --auditor-key /media/usb/auditor.pem --json
            """,
        subcommands: [AuditLogCommand.self, AuditShowCommand.self, AuditVerifyCommand.self, AuditDetectCommand.self])
}

struct AuditLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "List the ledger's rows.",
        discussion: "Example:\n  tracemark audit log --after 100 --limit 20")

    @Option(help: "Show rows with a serial above this.") var after: Int64 = 0
    @Option(help: "Show at most this many rows.") var limit = 100
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        try registry.withDatabase { db in
            let formatter = ISO8601DateFormatter()
            for row in try Ledger(db).rows(after: after, limit: limit) {
                let issued = Date(timeIntervalSince1970: Double(row.issuedAtMilliseconds) / 1000)
                print("\(row.serial)  \(formatter.string(from: issued))  key \(row.signingKeyID)  "
                      + "\(row.certificate.count)-byte certificate  \(row.rowSHA256.prefix(8).map { String(format: "%02x", $0) }.joined())")
            }
        }
    }
}

struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recheck the whole chain and every signature; name the first broken row.",
        discussion: "Exits 0 when the chain holds, 1 at the first broken row.\n\nExample:\n  tracemark audit verify --data-dir /srv/tracemark")

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let keys: [String: VerifyingKey]
        do { keys = try KeyStore(dataDirectory: registry.resolvedDataDirectory).verifyingKeys() } catch {
            throw ValidationFailure("\(error)")
        }
        let rows = try registry.withDatabase { try Ledger($0).rows() }
        if let broken = LedgerChain.firstBreak(rows, verifyingKeys: keys) {
            throw ValidationFailure("ledger broken at \(broken)")
        }
        print("ledger intact: \(rows.count) rows, every link and signature checked")
    }
}

/// The auditor's private key, for `show` and `detect`.
struct AuditorKeyOption: ParsableArguments {
    @Option(name: .customLong("auditor-key"),
            help: ArgumentHelp("The auditor's X25519 private key (PEM): decrypt and print the payload.", valueName: "file"))
    var path: String?

    func load() throws -> AuditorPrivateKey? {
        guard let path else { return nil }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ValidationFailure("--auditor-key \(path): cannot read: \(error.localizedDescription)")
        }
        do { return try AuditorPrivateKey(pem: text) } catch {
            throw ValidationFailure("--auditor-key \(path): \(error)")
        }
    }
}

/// What `show` and `detect` print with --json.
struct AuditAnswer: Encodable {
    var file: String?
    var found: Bool?
    var serial: UInt64?
    var mark_key_id: String?
    var speed: Double?
    var ledger_row: LedgerRowInfo?
    var signature: SignatureStatus?
    /// The decrypted payload; null without --auditor-key.
    var payload: PayloadInfo?

    enum CodingKeys: String, CodingKey { case file, found, serial, mark_key_id, speed, ledger_row, signature, payload }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(file, forKey: .file)
        try c.encodeIfPresent(found, forKey: .found)
        try c.encode(serial, forKey: .serial)
        if found != nil {
            try c.encode(mark_key_id, forKey: .mark_key_id)
            try c.encode(speed, forKey: .speed)
        }
        try c.encode(ledger_row, forKey: .ledger_row)
        try c.encode(signature, forKey: .signature)
        try c.encode(payload, forKey: .payload)
    }

    /// The human-readable lines.
    func lines() -> [String] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var lines: [String] = []
        if let row = ledger_row {
            lines.append("  ledger row \(row.serial): issued \(formatter.string(from: row.issued_at)), row SHA-256 \(row.row_sha256), signing key \(row.signing_key_id)")
        }
        if let signature {
            lines.append("  signature: \(signature.status.rawValue)\(signature.signing_key.map { " (\($0) key)" } ?? ""): \(signature.message)")
        }
        if let p = payload {
            lines.append("  payload (decrypted):")
            lines.append("    requester uid  \(p.requester_uid)")
            lines.append("    purpose        \(p.purpose.isEmpty ? "(none)" : p.purpose)")
            lines.append("    sources        \(p.sources.isEmpty ? "(none)" : p.sources.map { "track \($0.track_id) policy v\($0.policy_version)" }.joined(separator: ", "))")
            lines.append("    input SHA-256  \(p.input_sha256)")
            lines.append("    output SHA-256 \(p.output_sha256)")
            lines.append("    keys           signing \(p.signing_key_id), auditor \(p.auditor_key_id), mark \(p.mark_key_id)")
        }
        return lines
    }
}

/// The registry's keys for auditing; without a key directory, nothing verifies (every row shows
/// its signing key as unknown) but rows can still be shown.
private func auditKeys(_ registry: RegistryOptions, required: Bool) throws -> WatermarkAudit {
    let store = KeyStore(dataDirectory: registry.resolvedDataDirectory)
    if !store.exists, !required { return WatermarkAudit(markKeys: [], verifyingKeys: [:], currentSigningKeyID: nil) }
    do { return try WatermarkAudit(keyStore: store) } catch { throw ValidationFailure("\(error)") }
}

private func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try APIJSON.encode(value), as: UTF8.self))
}

struct AuditShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one issuance: its ledger row, whether it verifies, and with --auditor-key its decrypted payload.",
        discussion: "Exits 0 when the row and its certificate verify (and decrypt, given --auditor-key), 1 otherwise.\n\nExample:\n  tracemark audit show 42 --auditor-key /media/usb/auditor.pem --json")

    @Argument(help: ArgumentHelp("The watermark's serial.", valueName: "serial"))
    var serial: UInt64

    @OptionGroup var auditorKey: AuditorKeyOption

    @Flag(help: "Print {serial, ledger_row, signature, payload} as JSON.")
    var json = false

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let key = try auditorKey.load()
        let audit = try auditKeys(registry, required: false)
        let (row, signature) = try registry.withDatabase { db -> (LedgerRow, SignatureStatus) in
            guard let row = try Ledger(db).row(serial: serial) else {
                throw ValidationFailure("watermark \(serial) not found: the ledger has no row of that serial")
            }
            return (row, try audit.status(of: row, db: db))
        }
        var answer = AuditAnswer(serial: serial, ledger_row: LedgerRowInfo(row), signature: signature)
        if let key {
            do { answer.payload = PayloadInfo(try audit.open(row, auditorKey: key)) } catch {
                throw ValidationFailure("watermark \(serial): \(error)")
            }
        }
        if json { try printJSON(answer) } else {
            print("watermark \(serial)")
            answer.lines().forEach { print($0) }
        }
        if signature.status != .verified { throw ExitCode.failure }
    }
}

struct AuditDetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find a watermark in a file, check its ledger row, and with --auditor-key decrypt its payload.",
        discussion: """
            Tries every mark key in <data-dir>/keys (current and retired). Exits 0 when a mark \
            authenticates, its ledger row exists and every signature verifies (and the payload \
            decrypts, given --auditor-key); 1 when no valid mark is found.

            Example:
              tracemark audit detect found.mp3 --auditor-key /media/usb/auditor.pem
            """)

    @Argument(help: ArgumentHelp("The audio to examine (WAV, FLAC, Ogg Vorbis, Opus, MP3).", valueName: "file"))
    var file: String

    @OptionGroup var auditorKey: AuditorKeyOption

    @Flag(help: "Print {file, found, serial, mark_key_id, speed, ledger_row, signature, payload} as JSON.")
    var json = false

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let key = try auditorKey.load()
        let audit = try auditKeys(registry, required: true)
        let detection: MarkDetection
        do {
            let audio = try AudioDecoder(targetSampleRate: WatermarkAudit.sampleRate).decode(path: file)
            detection = try audit.findMark(mono: audio.samples, sampleRate: audio.sampleRate)
        } catch {
            throw ValidationFailure("\(error)")
        }
        var answer = AuditAnswer(file: file, found: false)
        var row: LedgerRow?
        if detection.isFound {
            let (detected, found) = try registry.withDatabase { db -> (WatermarkDetectAnswer, LedgerRow?) in
                let detected = try audit.answer(for: detection, db: db)
                return (detected, try detected.serial.flatMap { try Ledger(db).row(serial: $0) })
            }
            row = found
            answer = AuditAnswer(file: file, found: detected.found, serial: detected.serial, mark_key_id: detected.mark_key_id,
                                 speed: detected.speed, ledger_row: detected.ledger_row, signature: detected.signature)
        }
        if let key, let row {
            do { answer.payload = PayloadInfo(try audit.open(row, auditorKey: key)) } catch {
                throw ValidationFailure("\(file): watermark \(row.serial): \(error)")
            }
        }
        if json { try printJSON(answer) } else if let serial = answer.serial {
            print("\(file): watermark serial \(serial)\(answer.speed.map { $0 == 1 ? "" : String(format: " (played at %.1f %% speed)", $0 * 100) } ?? "")")
            answer.lines().forEach { print($0) }
        } else {
            print("\(file): no watermark found")
        }
        if answer.found != true || answer.signature?.status != .verified { throw ExitCode.failure }
    }
}
