import Audio
import Foundation
import Registry
import Watermark

/// A ledger row as the API and `tracemark audit` show it.
public struct LedgerRowInfo: Codable, Sendable, Equatable {
    public let serial: UInt64
    public let issued_at: Date
    /// The issue time exactly as the row's digest covers it: Unix time in milliseconds.
    public let issued_at_ms: Int64
    /// SHA-256 of the row (hex): what the next row links to and the signature covers.
    public let row_sha256: String
    public let previous_sha256: String
    public let signing_key_id: String
    public let certificate_bytes: Int

    public init(_ row: LedgerRow) {
        serial = row.serial
        issued_at = Date(timeIntervalSince1970: Double(row.issuedAtMilliseconds) / 1000)
        issued_at_ms = row.issuedAtMilliseconds
        row_sha256 = ContentDigest.hex(row.rowSHA256)
        previous_sha256 = ContentDigest.hex(row.previousSHA256)
        signing_key_id = row.signingKeyID
        certificate_bytes = row.certificate.count
    }
}

/// Whether a ledger row and its certificate are what the registry signed.
public struct SignatureStatus: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// The row's digest, its link to the row before it, its signature and the certificate's
        /// signature all check out against a key in `<data-dir>/keys`.
        case verified
        /// Something does not check out; `message` says what.
        case invalid
        /// Signed by a key that `<data-dir>/keys` does not hold.
        case unknown_key
        /// The mark authenticated but the ledger has no row of its serial.
        case no_ledger_row
    }
    public let status: Status
    /// `current` or `retired` for a key in `<data-dir>/keys`; null when it is unknown or there is no row.
    public let signing_key: String?
    public let message: String

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(signing_key, forKey: .signing_key)
        try c.encode(message, forKey: .message)
    }
}

/// `POST /v1/watermarks/detect`'s answer.
public struct WatermarkDetectAnswer: Codable, Sendable, Equatable {
    /// True when a mark authenticated under one of the registry's mark keys.
    public let found: Bool
    public let serial: UInt64?
    public let mark_key_id: String?
    /// Playback speed relative to the marked original (1.02 = 2 % faster); null when not found.
    public let speed: Double?
    public let ledger_row: LedgerRowInfo?
    public let signature: SignatureStatus?

    public init(found: Bool, serial: UInt64?, mark_key_id: String?, speed: Double?, ledger_row: LedgerRowInfo?, signature: SignatureStatus?) {
        self.found = found
        self.serial = serial
        self.mark_key_id = mark_key_id
        self.speed = speed
        self.ledger_row = ledger_row
        self.signature = signature
    }

    /// A mark, its ledger row, and every signature verified.
    public var isValid: Bool { found && signature?.status == .verified }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(found, forKey: .found)
        try c.encode(serial, forKey: .serial)
        try c.encode(mark_key_id, forKey: .mark_key_id)
        try c.encode(speed, forKey: .speed)
        try c.encode(ledger_row, forKey: .ledger_row)
        try c.encode(signature, forKey: .signature)
    }
}

/// A decrypted issuance payload as `tracemark audit show|detect` prints it.
public struct PayloadInfo: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public let track_id: Int64
        public let policy_version: Int64
    }
    public let serial: UInt64
    public let issued_at: Date
    public let requester_uid: UInt32
    public let purpose: String
    public let sources: [Source]
    public struct Replacement: Codable, Sendable, Equatable {
        public let track_id: Int64
        public let policy_version: Int64
        public let start_s: Double
        public let end_s: Double
    }
    /// Stretches where a master's recording was replaced with new material (payload version 2).
    public let replaced: [Replacement]
    /// The rights verification behind the issuance; null when there was none.
    public let verification_id: Int64?
    public let input_sha256: String
    public let output_sha256: String
    public let signing_key_id: String
    public let auditor_key_id: String
    public let mark_key_id: String

    public init(_ p: IssuancePayload) {
        serial = p.serial
        issued_at = Date(timeIntervalSince1970: Double(p.issuedAtMilliseconds) / 1000)
        requester_uid = p.requesterUID
        purpose = p.purpose
        sources = p.sources.map { Source(track_id: $0.trackID, policy_version: $0.policyVersion) }
        replaced = p.replacements.map {
            Replacement(track_id: $0.trackID, policy_version: $0.policyVersion,
                        start_s: Double($0.startMilliseconds) / 1000, end_s: Double($0.endMilliseconds) / 1000)
        }
        verification_id = p.verificationID == 0 ? nil : p.verificationID
        input_sha256 = ContentDigest.hex(p.inputSHA256)
        output_sha256 = ContentDigest.hex(p.outputSHA256)
        signing_key_id = p.signingKeyID.hex
        auditor_key_id = p.auditorKeyID.hex
        mark_key_id = p.markKeyID.hex
    }
}

/// The auditing side of watermarks, shared by the daemon and `tracemark audit`: find a mark in
/// audio, fetch its ledger row, and check the row and certificate against the registry's keys.
/// Blocking: run it on a thread meant for that.
public struct WatermarkAudit: Sendable {
    /// Every mark key, current first.
    public let markKeys: [MarkKey]
    /// Every signing key's public half by id, current and retired.
    public let verifyingKeys: [String: VerifyingKey]
    /// Id of the current signing key.
    public let currentSigningKeyID: String?

    public init(markKeys: [MarkKey], verifyingKeys: [String: VerifyingKey], currentSigningKeyID: String?) {
        self.markKeys = markKeys
        self.verifyingKeys = verifyingKeys
        self.currentSigningKeyID = currentSigningKeyID
    }

    /// The keys in `<data-dir>/keys`; fails with `KeyStoreError.missing` when there are none.
    public init(keyStore: KeyStore) throws {
        guard keyStore.exists else { throw KeyStoreError.missing(keyStore.directory) }
        markKeys = try keyStore.markKeys()
        verifyingKeys = try keyStore.verifyingKeys()
        currentSigningKeyID = try keyStore.entries().first { $0.kind == .signing && $0.isCurrent }?.id
    }

    /// The rate detection analyses at: decode straight to it.
    public static let sampleRate = 16_000

    /// Looks for a mark in mono audio at `sampleRate` and, when one authenticates, reports its
    /// ledger row and whether the row and certificate verify.
    public func detect(mono: [Float], sampleRate: Int, db: PostgresConnection) throws -> WatermarkDetectAnswer {
        try answer(for: findMark(mono: mono, sampleRate: sampleRate), db: db)
    }

    /// The signal-processing half of `detect`: no database.
    public func findMark(mono: [Float], sampleRate: Int) throws -> MarkDetection {
        try WatermarkDetector(markKeys: markKeys).detect(mono: mono, sampleRate: sampleRate)
    }

    /// The ledger half of `detect`: the row of a found mark and whether it verifies.
    public func answer(for detection: MarkDetection, db: PostgresConnection) throws -> WatermarkDetectAnswer {
        guard let serial = detection.serial else {
            return WatermarkDetectAnswer(found: false, serial: nil, mark_key_id: nil, speed: nil, ledger_row: nil, signature: nil)
        }
        let speed = (detection.speed * 10000).rounded() / 10000
        guard let row = try Ledger(db).row(serial: serial) else {
            return WatermarkDetectAnswer(
                found: true, serial: serial, mark_key_id: detection.markKeyID?.hex, speed: speed, ledger_row: nil,
                signature: SignatureStatus(status: .no_ledger_row, signing_key: nil,
                                           message: "the mark decodes to serial \(serial), but the ledger has no row of that serial"))
        }
        return WatermarkDetectAnswer(found: true, serial: serial, mark_key_id: detection.markKeyID?.hex, speed: speed,
                                     ledger_row: LedgerRowInfo(row), signature: try status(of: row, db: db))
    }

    /// Checks one row: its digest, its link to the row before it, its signature, and the
    /// signature of the certificate it holds.
    public func status(of row: LedgerRow, db: PostgresConnection) throws -> SignatureStatus {
        let keyState = verifyingKeys[row.signingKeyID] == nil ? nil : row.signingKeyID == currentSigningKeyID ? "current" : "retired"
        func invalid(_ message: String) -> SignatureStatus { SignatureStatus(status: .invalid, signing_key: keyState, message: message) }
        let digest = LedgerChain.digest(previous: row.previousSHA256, serial: row.serial,
                                        issuedAtMilliseconds: row.issuedAtMilliseconds, certificate: row.certificate)
        guard digest == row.rowSHA256 else { return invalid("row \(row.serial) does not match its SHA-256: it was altered") }
        guard try Ledger(db).previousDigest(before: row.serial) == row.previousSHA256 else {
            return invalid("row \(row.serial) does not follow the row before it: a row was removed, inserted or altered; run `tracemark audit verify`")
        }
        guard let key = verifyingKeys[row.signingKeyID] else {
            return SignatureStatus(status: .unknown_key, signing_key: nil,
                                   message: "row \(row.serial) is signed by key \(row.signingKeyID), which is not among the keys in <data-dir>/keys")
        }
        guard key.isValidSignature(row.rowSignature, for: digest) else {
            return invalid("the signature of row \(row.serial) does not verify with key \(row.signingKeyID)")
        }
        let certificate: Certificate
        do { certificate = try Certificate(bytes: row.certificate) } catch {
            return invalid("row \(row.serial): \(error)")
        }
        guard certificate.serial == row.serial else {
            return invalid("row \(row.serial) holds the certificate of serial \(certificate.serial)")
        }
        guard let certificateKey = verifyingKeys[certificate.signingKeyID.hex] else {
            return SignatureStatus(status: .unknown_key, signing_key: nil,
                                   message: "the certificate of row \(row.serial) is signed by key \(certificate.signingKeyID), which is not among the keys in <data-dir>/keys")
        }
        do { try certificate.verify(with: certificateKey) } catch {
            return invalid("row \(row.serial): \(error)")
        }
        return SignatureStatus(status: .verified, signing_key: keyState,
                               message: "row digest, chain link, row signature and certificate signature verified with \(keyState ?? "") key \(row.signingKeyID)")
    }

    /// Verifies and decrypts the certificate of `row` with the auditor's private key. Errors name
    /// what to do: a wrong auditor key gives `WatermarkError.auditorKeyMismatch` with both key ids.
    public func open(_ row: LedgerRow, auditorKey: AuditorPrivateKey) throws -> IssuancePayload {
        let certificate = try Certificate(bytes: row.certificate)
        guard let key = verifyingKeys[certificate.signingKeyID.hex] else {
            throw AuditError.unknownSigningKey(certificate.signingKeyID.hex)
        }
        return try certificate.open(auditorKey: auditorKey, verifyingKey: key)
    }
}

/// Why an audit could not check a certificate.
public enum AuditError: Error, CustomStringConvertible, Sendable {
    /// The certificate's signing key is not among the keys in `<data-dir>/keys`.
    case unknownSigningKey(String)

    public var description: String {
        switch self {
        case let .unknownSigningKey(id):
            return "the certificate is signed by registry key \(id), which is not among the signing keys in <data-dir>/keys (current and retired); audit with the data directory that issued it"
        }
    }
}
