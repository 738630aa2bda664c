import ArgumentParser
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
            removed row breaks the chain.

            Examples:
              tracemark audit log
              tracemark audit verify
            """,
        subcommands: [AuditLogCommand.self, AuditVerifyCommand.self])
}

struct AuditLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "List the ledger's rows.")

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
        discussion: "Exits 0 when the chain holds, 1 at the first broken row.")

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
