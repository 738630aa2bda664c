/// Why a key, payload, certificate or mark was refused. Messages say what to check.
public enum WatermarkError: Error, Equatable, CustomStringConvertible {
    /// A key in the wrong form: bad length, bad hex, unreadable PEM, or the wrong algorithm.
    case invalidKey(String)
    /// Bytes that are not a canonical payload encoding.
    case malformedPayload(String)
    /// Bytes that are not a certificate of a supported version.
    case malformedCertificate(String)
    /// The certificate was signed by another key than the one offered for verification.
    case signingKeyMismatch(certificate: String, offered: String)
    /// The Ed25519 signature does not cover these bytes: the certificate was altered or forged.
    case signatureInvalid
    /// The certificate is encrypted to another auditor key than the one offered.
    case auditorKeyMismatch(certificate: String, offered: String)
    /// AES-GCM authentication failed: wrong auditor key or altered ciphertext.
    case decryptionFailed
    /// A payload field is out of range for the encoding (the message names it).
    case payloadFieldOutOfRange(String)
    /// OpenSSL refused an operation; the text is its error queue.
    case openSSL(String)

    public var description: String {
        switch self {
        case let .invalidKey(reason): "invalid key: \(reason)"
        case let .malformedPayload(reason): "malformed watermark payload: \(reason)"
        case let .malformedCertificate(reason): "malformed watermark certificate: \(reason)"
        case let .signingKeyMismatch(certificate, offered):
            "certificate is signed by registry key \(certificate), not by the offered key \(offered); verify with the key of that id"
        case .signatureInvalid: "certificate signature does not verify: the certificate was altered or not issued by this registry"
        case let .auditorKeyMismatch(certificate, offered):
            "certificate is encrypted to auditor key \(certificate), not to the offered key \(offered); decrypt with the auditor private key of that id"
        case .decryptionFailed: "payload decryption failed: wrong auditor private key or altered ciphertext"
        case let .payloadFieldOutOfRange(field): "payload field out of range: \(field)"
        case let .openSSL(reason): "OpenSSL error: \(reason)"
        }
    }
}
