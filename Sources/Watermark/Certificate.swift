/// An issuance payload encrypted to the auditor and signed by the registry.
///
/// Byte layout (big-endian):
///
///     header (77 bytes)
///       4   magic "TMWC"
///       1   version (1)
///       8   serial (in the clear, so ledgers and detectors can index certificates)
///       8   signing key id (Ed25519)
///       8   auditor key id (X25519)
///       32  ephemeral X25519 public key, fresh for every certificate
///       12  AES-GCM nonce (random)
///       4   ciphertext length n
///     n   ciphertext: AES-256-GCM of the canonical payload, additional data = the header
///     16  GCM tag
///     64  Ed25519 signature over everything before it (header, ciphertext, tag)
///
/// The AES key is HKDF-SHA256(ikm: X25519(ephemeral, auditor), salt: ephemeral public || auditor
/// public, info: "tracemark watermark payload v1"), 32 bytes.
public struct Certificate: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TMWC".utf8)
    public static let version: UInt8 = 1
    public static let headerLength = 77
    static let hkdfInfo = Array("tracemark watermark payload v1".utf8)
    static let maxCiphertext = 1 << 20

    public let serial: UInt64
    public let signingKeyID: KeyID
    public let auditorKeyID: KeyID
    public let ephemeralPublicKey: [UInt8]
    public let nonce: [UInt8]
    public let ciphertext: [UInt8]
    public let tag: [UInt8]
    public let signature: [UInt8]

    /// The header, exactly as signed and authenticated.
    public var header: [UInt8] {
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.u8(Self.version)
        w.u64(serial)
        w.bytes(signingKeyID.bytes)
        w.bytes(auditorKeyID.bytes)
        w.bytes(ephemeralPublicKey)
        w.bytes(nonce)
        w.u32(UInt32(ciphertext.count))
        return w.data
    }

    /// What the signature covers.
    public var signedBytes: [UInt8] { header + ciphertext + tag }

    /// The whole certificate, as stored and served.
    public var bytes: [UInt8] { signedBytes + signature }

    /// Encrypts `payload` to `auditor` with a fresh ephemeral key and signs it with `signingKey`.
    /// The payload's serial and key ids must match the keys used.
    public static func issue(_ payload: IssuancePayload, signingKey: SigningKey, auditor: AuditorPublicKey) throws -> Certificate {
        guard payload.signingKeyID == signingKey.id else {
            throw WatermarkError.payloadFieldOutOfRange("signing key id \(payload.signingKeyID) is not the id of the signing key (\(signingKey.id))")
        }
        guard payload.auditorKeyID == auditor.id else {
            throw WatermarkError.payloadFieldOutOfRange("auditor key id \(payload.auditorKeyID) is not the id of the auditor key (\(auditor.id))")
        }
        let plaintext = try payload.encoded()
        let ephemeral = try AuditorPrivateKey.generate()
        let key = try Crypto.hkdfSHA256(
            secret: Crypto.x25519(privateKey: ephemeral.rawRepresentation, peerPublicKey: auditor.rawRepresentation),
            salt: ephemeral.publicKey.rawRepresentation + auditor.rawRepresentation, info: hkdfInfo, count: 32)
        let nonce = try Crypto.randomBytes(12)
        var unsigned = Certificate(serial: payload.serial, signingKeyID: signingKey.id, auditorKeyID: auditor.id,
                                   ephemeralPublicKey: ephemeral.publicKey.rawRepresentation, nonce: nonce,
                                   ciphertext: [UInt8](repeating: 0, count: plaintext.count), tag: [], signature: [])
        let sealed = try Crypto.aesGCMSeal(key: key, nonce: nonce, plaintext: plaintext, aad: unsigned.header)
        unsigned = Certificate(serial: unsigned.serial, signingKeyID: unsigned.signingKeyID, auditorKeyID: unsigned.auditorKeyID,
                               ephemeralPublicKey: unsigned.ephemeralPublicKey, nonce: nonce,
                               ciphertext: sealed.ciphertext, tag: sealed.tag, signature: [])
        let signature = try signingKey.sign(unsigned.signedBytes)
        return Certificate(serial: unsigned.serial, signingKeyID: unsigned.signingKeyID, auditorKeyID: unsigned.auditorKeyID,
                           ephemeralPublicKey: unsigned.ephemeralPublicKey, nonce: nonce,
                           ciphertext: sealed.ciphertext, tag: sealed.tag, signature: signature)
    }

    init(serial: UInt64, signingKeyID: KeyID, auditorKeyID: KeyID, ephemeralPublicKey: [UInt8], nonce: [UInt8],
         ciphertext: [UInt8], tag: [UInt8], signature: [UInt8]) {
        self.serial = serial
        self.signingKeyID = signingKeyID
        self.auditorKeyID = auditorKeyID
        self.ephemeralPublicKey = ephemeralPublicKey
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
        self.signature = signature
    }

    /// Parses a certificate. Checks the layout only; call `verify` for the signature.
    public init(bytes data: [UInt8]) throws {
        var r = ByteReader(data, fail: WatermarkError.malformedCertificate)
        guard try r.bytes(4) == Self.magic else { throw WatermarkError.malformedCertificate("does not start with \"TMWC\"") }
        let version = try r.u8()
        guard version == Self.version else {
            throw WatermarkError.malformedCertificate("version \(version); this build reads version \(Self.version)")
        }
        serial = try r.u64()
        signingKeyID = try KeyID(bytes: r.bytes(8))
        auditorKeyID = try KeyID(bytes: r.bytes(8))
        ephemeralPublicKey = try r.bytes(32)
        nonce = try r.bytes(12)
        let length = Int(try r.u32())
        guard length <= Self.maxCiphertext else { throw WatermarkError.malformedCertificate("ciphertext length \(length) is over 1 MiB") }
        ciphertext = try r.bytes(length)
        tag = try r.bytes(16)
        signature = try r.bytes(64)
        guard r.remaining == 0 else { throw WatermarkError.malformedCertificate("\(r.remaining) trailing bytes") }
    }

    /// Checks the registry's signature over header, ciphertext and tag.
    public func verify(with key: VerifyingKey) throws {
        guard key.id == signingKeyID else {
            throw WatermarkError.signingKeyMismatch(certificate: signingKeyID.hex, offered: key.id.hex)
        }
        guard key.isValidSignature(signature, for: signedBytes) else { throw WatermarkError.signatureInvalid }
    }

    /// Verifies the signature, then decrypts the payload with the auditor's private key and checks
    /// that it agrees with the header.
    public func open(auditorKey: AuditorPrivateKey, verifyingKey: VerifyingKey) throws -> IssuancePayload {
        try verify(with: verifyingKey)
        guard auditorKey.id == auditorKeyID else {
            throw WatermarkError.auditorKeyMismatch(certificate: auditorKeyID.hex, offered: auditorKey.id.hex)
        }
        let key = try Crypto.hkdfSHA256(
            secret: Crypto.x25519(privateKey: auditorKey.rawRepresentation, peerPublicKey: ephemeralPublicKey),
            salt: ephemeralPublicKey + auditorKey.publicKey.rawRepresentation, info: Self.hkdfInfo, count: 32)
        guard let plaintext = try Crypto.aesGCMOpen(key: key, nonce: nonce, ciphertext: ciphertext, tag: tag, aad: header) else {
            throw WatermarkError.decryptionFailed
        }
        let payload = try IssuancePayload(encoded: plaintext)
        guard payload.serial == serial, payload.signingKeyID == signingKeyID, payload.auditorKeyID == auditorKeyID else {
            throw WatermarkError.malformedCertificate("the encrypted payload disagrees with the header (serial or key ids)")
        }
        return payload
    }
}
