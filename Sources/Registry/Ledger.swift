import Foundation
import Watermark

/// The append-only watermark ledger. The chain and signatures are `Watermark.LedgerChain`'s; this
/// stores and reads the rows.
public struct Ledger: Sendable {
    private let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    /// Appends one row in a transaction that holds the ledger against other writers, so rows chain
    /// in serial order. `make` gets the new serial and the previous row's digest (the genesis
    /// digest for the first row) and returns the row to store.
    public func append(_ make: (_ serial: UInt64, _ previous: [UInt8]) throws -> LedgerRow) throws -> LedgerRow {
        try db.transaction {
            // Taken before switching to the history role: this lock mode needs more than INSERT.
            try db.execute("LOCK TABLE watermark_ledger IN SHARE ROW EXCLUSIVE MODE")
            return try HistoryWriter.run(db) {
                let previous = try db.query("SELECT row_sha256 FROM watermark_ledger ORDER BY serial DESC LIMIT 1").rows.first?[0].bytes
                guard let serial = try db.query("SELECT nextval('watermark_serials')").rows.first?[0].int, serial > 0 else {
                    throw RegistryError.decoding("nextval gave no serial")
                }
                let row = try make(UInt64(serial), previous ?? LedgerChain.genesis)
                try db.query("""
                    INSERT INTO watermark_ledger (serial, issued_at, certificate, previous_sha256, row_sha256, signing_key_id, row_signature)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    """, [.int64(Int64(row.serial)), .timestamp(Date(timeIntervalSince1970: Double(row.issuedAtMilliseconds) / 1000)),
                          .bytea(row.certificate), .bytea(row.previousSHA256), .bytea(row.rowSHA256), .text(row.signingKeyID),
                          .bytea(row.rowSignature)])
                return row
            }
        }
    }

    /// Rows in serial order, from `after` on.
    public func rows(after: Int64 = 0, limit: Int = Int(Int32.max)) throws -> [LedgerRow] {
        try db.query("""
            SELECT serial, issued_at, certificate, previous_sha256, row_sha256, signing_key_id, row_signature
            FROM watermark_ledger WHERE serial > $1 ORDER BY serial LIMIT $2
            """, [.int64(after), .int64(Int64(limit))]).rows.map(Self.row)
    }

    /// The row of one serial, or nil when no issuance has it.
    public func row(serial: UInt64) throws -> LedgerRow? {
        guard serial > 0, serial <= UInt64(Int64.max) else { return nil }
        return try db.query("""
            SELECT serial, issued_at, certificate, previous_sha256, row_sha256, signing_key_id, row_signature
            FROM watermark_ledger WHERE serial = $1
            """, [.int64(Int64(serial))]).rows.first.map(Self.row)
    }

    /// The digest of the row before `serial` in the chain (the genesis digest for the first row).
    public func previousDigest(before serial: UInt64) throws -> [UInt8] {
        guard serial <= UInt64(Int64.max) else { return LedgerChain.genesis }
        return try db.query("SELECT row_sha256 FROM watermark_ledger WHERE serial < $1 ORDER BY serial DESC LIMIT 1",
                            [.int64(Int64(serial))]).rows.first?[0].bytes ?? LedgerChain.genesis
    }

    private static func row(_ r: [PostgresValue]) throws -> LedgerRow {
        guard let serial = r[0].int, let at = r[1].date, let certificate = r[2].bytes, let previous = r[3].bytes,
              let digest = r[4].bytes, let key = r[5].text, let signature = r[6].bytes else {
            throw RegistryError.decoding("incomplete watermark_ledger row")
        }
        return LedgerRow(serial: UInt64(serial), issuedAtMilliseconds: Int64((at.timeIntervalSince1970 * 1000).rounded()),
                         certificate: certificate, previousSHA256: previous, rowSHA256: digest, signingKeyID: key,
                         rowSignature: signature)
    }
}
