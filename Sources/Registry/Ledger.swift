import Foundation

/// A stored ledger row, as bytes; the chain and signatures are checked by `Watermark.LedgerChain`.
public struct StoredLedgerRow: Sendable, Equatable {
    public let serial: Int64
    public let issuedAt: Date
    public let certificate: [UInt8]
    public let previousSHA256: [UInt8]
    public let rowSHA256: [UInt8]
    public let signingKeyID: String
    public let rowSignature: [UInt8]

    public init(serial: Int64, issuedAt: Date, certificate: [UInt8], previousSHA256: [UInt8], rowSHA256: [UInt8],
                signingKeyID: String, rowSignature: [UInt8]) {
        self.serial = serial
        self.issuedAt = issuedAt
        self.certificate = certificate
        self.previousSHA256 = previousSHA256
        self.rowSHA256 = rowSHA256
        self.signingKeyID = signingKeyID
        self.rowSignature = rowSignature
    }
}

/// The append-only watermark ledger.
public struct Ledger: Sendable {
    private let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    /// Appends one row in a transaction that holds the ledger against other writers, so rows chain
    /// in serial order. `make` gets the new serial and the previous row's digest (nil for the first
    /// row) and returns the row to store.
    public func append(_ make: (_ serial: Int64, _ previous: [UInt8]?) throws -> StoredLedgerRow) throws -> StoredLedgerRow {
        try db.transaction {
            try db.execute("LOCK TABLE watermark_ledger IN SHARE ROW EXCLUSIVE MODE")
            let previous = try db.query("SELECT row_sha256 FROM watermark_ledger ORDER BY serial DESC LIMIT 1").rows.first?[0].bytes
            guard let serial = try db.query("SELECT nextval('watermark_serials')").rows.first?[0].int else {
                throw RegistryError.decoding("nextval gave no serial")
            }
            let row = try make(serial, previous)
            try db.query("""
                INSERT INTO watermark_ledger (serial, issued_at, certificate, previous_sha256, row_sha256, signing_key_id, row_signature)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, [.int64(row.serial), .timestamp(row.issuedAt), .bytea(row.certificate), .bytea(row.previousSHA256),
                      .bytea(row.rowSHA256), .text(row.signingKeyID), .bytea(row.rowSignature)])
            return row
        }
    }

    /// Rows in serial order, from `after` on.
    public func rows(after: Int64 = 0, limit: Int = Int(Int32.max)) throws -> [StoredLedgerRow] {
        try db.query("""
            SELECT serial, issued_at, certificate, previous_sha256, row_sha256, signing_key_id, row_signature
            FROM watermark_ledger WHERE serial > $1 ORDER BY serial LIMIT $2
            """, [.int64(after), .int64(Int64(limit))]).rows.map { r in
            guard let serial = r[0].int, let at = r[1].date, let certificate = r[2].bytes, let previous = r[3].bytes,
                  let digest = r[4].bytes, let key = r[5].text, let signature = r[6].bytes else {
                throw RegistryError.decoding("incomplete watermark_ledger row")
            }
            return StoredLedgerRow(serial: serial, issuedAt: at, certificate: certificate, previousSHA256: previous,
                                   rowSHA256: digest, signingKeyID: key, rowSignature: signature)
        }
    }
}
