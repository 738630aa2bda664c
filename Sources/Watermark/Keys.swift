import COpenSSL

/// A key's identifier: the first 8 bytes of the SHA-256 of its public key (of a domain-separated
/// hash for the secret mark key), shown as 16 hex digits. Certificates and ledger rows name keys by id
/// so that rotated keys stay usable for verification.
public struct KeyID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 8 else { throw WatermarkError.invalidKey("a key id is 8 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        guard let bytes = Hex.decode(hex), bytes.count == 8 else {
            throw WatermarkError.invalidKey("a key id is 16 hex digits, got \"\(hex)\"")
        }
        self.bytes = bytes
    }

    init(digestOf material: [UInt8]) { bytes = Array(Crypto.sha256(material).prefix(8)) }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

private func rawKey(_ raw: [UInt8], _ what: String) throws -> [UInt8] {
    guard raw.count == 32 else { throw WatermarkError.invalidKey("\(what) is 32 raw bytes, got \(raw.count)") }
    return raw
}

private func hexKey(_ hex: String, _ what: String) throws -> [UInt8] {
    guard let raw = Hex.decode(hex.trimmingWhitespace), raw.count == 32 else {
        throw WatermarkError.invalidKey("\(what) is 64 hex digits")
    }
    return raw
}

extension String {
    var trimmingWhitespace: String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// The registry's Ed25519 private key: signs certificates (and, for the integrator, ledger rows).
public struct SigningKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]
    public let publicKey: VerifyingKey

    public init(rawRepresentation raw: [UInt8]) throws {
        rawRepresentation = try rawKey(raw, "an Ed25519 private key")
        publicKey = try VerifyingKey(rawRepresentation: Crypto.publicFromPrivate(type: EVP_PKEY_ED25519, raw: raw))
    }

    public static func generate() throws -> SigningKey {
        try SigningKey(rawRepresentation: Crypto.generate(type: EVP_PKEY_ED25519))
    }

    /// PKCS#8 PEM ("BEGIN PRIVATE KEY"), as `openssl genpkey -algorithm ed25519` writes.
    public init(pem: String) throws {
        try self.init(rawRepresentation: Crypto.rawFromPEM(pem, type: EVP_PKEY_ED25519, isPrivate: true, what: "Ed25519 signing key"))
    }

    public func pem() throws -> String { try Crypto.pem(privateType: EVP_PKEY_ED25519, raw: rawRepresentation) }
    public var id: KeyID { publicKey.id }

    /// Ed25519 signature (64 bytes) of `message`.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try Crypto.ed25519Sign(privateKey: rawRepresentation, message: message)
    }
}

/// The registry's Ed25519 public key.
public struct VerifyingKey: Sendable, Hashable {
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation raw: [UInt8]) throws {
        rawRepresentation = try rawKey(raw, "an Ed25519 public key")
    }

    /// SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY").
    public init(pem: String) throws {
        try self.init(rawRepresentation: Crypto.rawFromPEM(pem, type: EVP_PKEY_ED25519, isPrivate: false, what: "Ed25519 verifying key"))
    }

    public func pem() throws -> String { try Crypto.pem(publicType: EVP_PKEY_ED25519, raw: rawRepresentation) }
    public var id: KeyID { KeyID(digestOf: rawRepresentation) }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        return (try? Crypto.ed25519Verify(publicKey: rawRepresentation, message: message, signature: signature)) ?? false
    }
}

/// The auditor's X25519 private key: kept off the registry host; decrypts payloads.
public struct AuditorPrivateKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]
    public let publicKey: AuditorPublicKey

    public init(rawRepresentation raw: [UInt8]) throws {
        rawRepresentation = try rawKey(raw, "an X25519 private key")
        publicKey = try AuditorPublicKey(rawRepresentation: Crypto.publicFromPrivate(type: EVP_PKEY_X25519, raw: raw))
    }

    public static func generate() throws -> AuditorPrivateKey {
        try AuditorPrivateKey(rawRepresentation: Crypto.generate(type: EVP_PKEY_X25519))
    }

    public init(pem: String) throws {
        try self.init(rawRepresentation: Crypto.rawFromPEM(pem, type: EVP_PKEY_X25519, isPrivate: true, what: "X25519 auditor private key"))
    }

    public func pem() throws -> String { try Crypto.pem(privateType: EVP_PKEY_X25519, raw: rawRepresentation) }
    public var id: KeyID { publicKey.id }
}

/// The auditor's X25519 public key: what the registry encrypts payloads to.
public struct AuditorPublicKey: Sendable, Hashable {
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation raw: [UInt8]) throws {
        rawRepresentation = try rawKey(raw, "an X25519 public key")
    }

    public init(pem: String) throws {
        try self.init(rawRepresentation: Crypto.rawFromPEM(pem, type: EVP_PKEY_X25519, isPrivate: false, what: "X25519 auditor public key"))
    }

    public func pem() throws -> String { try Crypto.pem(publicType: EVP_PKEY_X25519, raw: rawRepresentation) }
    public var id: KeyID { KeyID(digestOf: rawRepresentation) }
}

/// The secret 32-byte mark key: turns serials into 128-bit marks and back (AES-256 on one block).
/// Stored as 64 hex digits (a file of one line); it has no public half.
public struct MarkKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation raw: [UInt8]) throws {
        rawRepresentation = try rawKey(raw, "a mark key")
    }

    public init(hex: String) throws { try self.init(rawRepresentation: hexKey(hex, "a mark key")) }

    public static func generate() throws -> MarkKey { try MarkKey(rawRepresentation: Crypto.randomBytes(32)) }

    public var hex: String { Hex.encode(rawRepresentation) }

    /// Id of a secret key: a domain-separated hash, so the id says nothing usable about the key.
    public var id: KeyID { KeyID(digestOf: Array("tracemark mark key id v1".utf8) + rawRepresentation) }
}
