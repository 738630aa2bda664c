import Audio

/// One row of the watermark ledger as the chain sees it.
public struct LedgerRow: Sendable, Equatable {
    public let serial: UInt64
    public let issuedAtMilliseconds: Int64
    public let certificate: [UInt8]
    public let previousSHA256: [UInt8]
    public let rowSHA256: [UInt8]
    public let signingKeyID: String
    public let rowSignature: [UInt8]

    public init(serial: UInt64, issuedAtMilliseconds: Int64, certificate: [UInt8], previousSHA256: [UInt8],
                rowSHA256: [UInt8], signingKeyID: String, rowSignature: [UInt8]) {
        self.serial = serial
        self.issuedAtMilliseconds = issuedAtMilliseconds
        self.certificate = certificate
        self.previousSHA256 = previousSHA256
        self.rowSHA256 = rowSHA256
        self.signingKeyID = signingKeyID
        self.rowSignature = rowSignature
    }

    /// A new row after `previous` (32 zero bytes for the first), hashed and signed.
    public static func make(serial: UInt64, issuedAtMilliseconds: Int64, certificate: [UInt8], previous: [UInt8],
                            signingKey: SigningKey) throws -> LedgerRow {
        let digest = LedgerChain.digest(previous: previous, serial: serial, issuedAtMilliseconds: issuedAtMilliseconds,
                                        certificate: certificate)
        return LedgerRow(serial: serial, issuedAtMilliseconds: issuedAtMilliseconds, certificate: certificate,
                         previousSHA256: previous, rowSHA256: digest, signingKeyID: signingKey.id.hex,
                         rowSignature: try signingKey.sign(digest))
    }
}

/// The ledger's hash chain: each row's digest covers the previous row's digest, the serial, the
/// issue time and the certificate; the registry signs each digest.
public enum LedgerChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public static func digest(previous: [UInt8], serial: UInt64, issuedAtMilliseconds: Int64, certificate: [UInt8]) -> [UInt8] {
        var bytes = Array("tracemark ledger v1".utf8) + previous
        withUnsafeBytes(of: serial.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: issuedAtMilliseconds.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(certificate.count).bigEndian) { bytes += $0 }
        return ContentDigest.sha256(bytes + certificate)
    }

    /// Why the chain is broken at a row.
    public struct Break: Sendable, Equatable, CustomStringConvertible {
        public let serial: UInt64
        public let reason: String
        public var description: String { "row \(serial): \(reason)" }
    }

    /// The first broken row of `rows` (in serial order), or nil when every link and signature holds.
    public static func firstBreak(_ rows: [LedgerRow], verifyingKeys: [String: VerifyingKey]) -> Break? {
        var previous = genesis
        for row in rows {
            guard row.previousSHA256 == previous else {
                return Break(serial: row.serial, reason: "does not follow the row before it (a row was removed, inserted or altered before it)")
            }
            let digest = digest(previous: previous, serial: row.serial, issuedAtMilliseconds: row.issuedAtMilliseconds,
                                certificate: row.certificate)
            guard digest == row.rowSHA256 else { return Break(serial: row.serial, reason: "its content does not match its hash (altered)") }
            guard let key = verifyingKeys[row.signingKeyID] else {
                return Break(serial: row.serial, reason: "signed by unknown key \(row.signingKeyID)")
            }
            guard key.isValidSignature(row.rowSignature, for: digest) else { return Break(serial: row.serial, reason: "bad signature") }
            previous = row.rowSHA256
        }
        return nil
    }
}
