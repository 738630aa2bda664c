import Foundation
import Registry
import TestSupport
import Testing
import Watermark

/// The ledger's append-only rule and hash chain, tampered with as a superuser could.
@Suite struct LedgerTests {
    let db: PostgresConnection
    let key: SigningKey

    init() throws {
        db = try PostgresConnection(connectionString: TestDatabase.create())
        key = try SigningKey.generate()
    }

    func append(_ certificate: [UInt8]) throws {
        _ = try Ledger(db).append { serial, previous in
            try LedgerRow.make(serial: serial, issuedAtMilliseconds: 1_800_000_000_000 + Int64(serial),
                               certificate: certificate, previous: previous, signingKey: key)
        }
    }

    func firstBreak() throws -> LedgerChain.Break? {
        LedgerChain.firstBreak(try Ledger(db).rows(), verifyingKeys: [key.id.hex: key.publicKey])
    }

    func tamper(_ sql: String) throws {
        try db.execute("ALTER TABLE watermark_ledger DISABLE TRIGGER watermark_ledger_append_only")
        try db.execute(sql)
        try db.execute("ALTER TABLE watermark_ledger ENABLE TRIGGER watermark_ledger_append_only")
    }

    @Test func rowsChainAndTheTriggerRefusesChanges() throws {
        for i in 1...4 { try append([UInt8(i), 1, 2, 3]) }
        #expect(try firstBreak() == nil)
        #expect(throws: RegistryError.self) { try db.execute("UPDATE watermark_ledger SET certificate = '\\x00'") }
        #expect(throws: RegistryError.self) { try db.execute("DELETE FROM watermark_ledger WHERE serial = 2") }
        #expect(try Ledger(db).rows().map(\.serial) == [1, 2, 3, 4])
    }

    @Test func anAlteredRowIsNamed() throws {
        for i in 1...4 { try append([UInt8(i)]) }
        try tamper("UPDATE watermark_ledger SET certificate = '\\x09' WHERE serial = 3")
        #expect(try firstBreak()?.serial == 3)
    }

    @Test func aDeletedRowBreaksTheNextOne() throws {
        for i in 1...4 { try append([UInt8(i)]) }
        try tamper("DELETE FROM watermark_ledger WHERE serial = 2")
        #expect(try firstBreak()?.serial == 3)
    }

    @Test func anInsertedRowIsNamed() throws {
        for i in 1...3 { try append([UInt8(i)]) }
        // A forged row between 2 and 3 that copies row 3's link: its own digest cannot match.
        try tamper("""
            INSERT INTO watermark_ledger SELECT 25, issued_at, '\\x42', previous_sha256, row_sha256, signing_key_id, row_signature
            FROM watermark_ledger WHERE serial = 3
            """)
        let broken = try firstBreak()
        #expect(broken?.serial == 25, "\(String(describing: broken))")
    }
}
