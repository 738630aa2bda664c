import COpenSSL
import Foundation

/// Thin helpers over libcrypto EVP. Every primitive goes through OpenSSL; nothing here is home-made
/// cryptography, only marshalling between Swift arrays and EVP calls.
enum Crypto {
    /// The OpenSSL error queue as one line, cleared.
    static func lastError(_ context: String) -> WatermarkError {
        var parts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return .openSSL(parts.isEmpty ? context : "\(context): \(parts.joined(separator: "; "))")
    }

    static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw lastError("RAND_bytes") }
        return bytes
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = data.withUnsafeBytes { EVP_Digest($0.baseAddress, data.count, &digest, &length, EVP_sha256(), nil) }
        return digest
    }

    // MARK: raw keys

    static func privateKey(type: Int32, raw: [UInt8]) throws -> OpaquePointer {
        guard let key = EVP_PKEY_new_raw_private_key(type, nil, raw, raw.count) else { throw lastError("raw private key") }
        return key
    }

    static func publicKey(type: Int32, raw: [UInt8]) throws -> OpaquePointer {
        guard let key = EVP_PKEY_new_raw_public_key(type, nil, raw, raw.count) else { throw lastError("raw public key") }
        return key
    }

    static func generate(type: Int32) throws -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new_id(type, nil) else { throw lastError("key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_keygen(ctx, &key) == 1, let key else { throw lastError("key generation") }
        defer { EVP_PKEY_free(key) }
        return try rawPrivate(key)
    }

    static func rawPrivate(_ key: OpaquePointer) throws -> [UInt8] {
        var length = 32
        var raw = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_raw_private_key(key, &raw, &length) == 1, length == 32 else { throw lastError("raw private key") }
        return raw
    }

    static func rawPublic(_ key: OpaquePointer) throws -> [UInt8] {
        var length = 32
        var raw = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else { throw lastError("raw public key") }
        return raw
    }

    static func publicFromPrivate(type: Int32, raw: [UInt8]) throws -> [UInt8] {
        let key = try privateKey(type: type, raw: raw)
        defer { EVP_PKEY_free(key) }
        return try rawPublic(key)
    }

    // MARK: PEM (PKCS#8 private keys, SubjectPublicKeyInfo public keys)

    static func pem(privateType type: Int32, raw: [UInt8]) throws -> String {
        let key = try privateKey(type: type, raw: raw)
        defer { EVP_PKEY_free(key) }
        return try writePEM { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    static func pem(publicType type: Int32, raw: [UInt8]) throws -> String {
        let key = try publicKey(type: type, raw: raw)
        defer { EVP_PKEY_free(key) }
        return try writePEM { PEM_write_bio_PUBKEY($0, key) }
    }

    private static func writePEM(_ write: (OpaquePointer) -> Int32) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw lastError("memory BIO") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw lastError("PEM write") }
        var pointer: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
        guard length > 0, let pointer else { throw lastError("PEM write") }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// Reads a PEM key of `type` and returns its raw bytes (private when `isPrivate`).
    static func rawFromPEM(_ pem: String, type: Int32, isPrivate: Bool, what: String) throws -> [UInt8] {
        let bytes = Array(pem.utf8)
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw lastError("memory BIO")
        }
        defer { BIO_free(bio) }
        let key = isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        guard let key else {
            ERR_clear_error()
            throw WatermarkError.invalidKey("\(what): not a PEM \(isPrivate ? "PKCS#8 private key" : "public key")")
        }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == type else { throw WatermarkError.invalidKey("\(what): PEM holds a key of another algorithm") }
        return isPrivate ? try rawPrivate(key) : try rawPublic(key)
    }

    // MARK: primitives

    static func ed25519Sign(privateKey raw: [UInt8], message: [UInt8]) throws -> [UInt8] {
        let key = try privateKey(type: EVP_PKEY_ED25519, raw: raw)
        defer { EVP_PKEY_free(key) }
        guard let md = EVP_MD_CTX_new() else { throw lastError("digest context") }
        defer { EVP_MD_CTX_free(md) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        guard EVP_DigestSignInit(md, nil, nil, nil, key) == 1,
              EVP_DigestSign(md, &signature, &length, message, message.count) == 1, length == 64
        else { throw lastError("Ed25519 sign") }
        return signature
    }

    static func ed25519Verify(publicKey raw: [UInt8], message: [UInt8], signature: [UInt8]) throws -> Bool {
        let key = try publicKey(type: EVP_PKEY_ED25519, raw: raw)
        defer { EVP_PKEY_free(key) }
        guard let md = EVP_MD_CTX_new() else { throw lastError("digest context") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestVerifyInit(md, nil, nil, nil, key) == 1 else { throw lastError("Ed25519 verify") }
        let ok = EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
        ERR_clear_error()
        return ok
    }

    static func x25519(privateKey: [UInt8], peerPublicKey: [UInt8]) throws -> [UInt8] {
        let own = try self.privateKey(type: EVP_PKEY_X25519, raw: privateKey)
        defer { EVP_PKEY_free(own) }
        let peer = try publicKey(type: EVP_PKEY_X25519, raw: peerPublicKey)
        defer { EVP_PKEY_free(peer) }
        guard let ctx = EVP_PKEY_CTX_new(own, nil) else { throw lastError("X25519 context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var secret = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, peer) == 1,
              EVP_PKEY_derive(ctx, &secret, &length) == 1, length == 32
        else { throw lastError("X25519 derive") }
        return secret
    }

    static func hkdfSHA256(secret: [UInt8], salt: [UInt8], info: [UInt8], count: Int) throws -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else { throw lastError("HKDF context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: count)
        var length = count
        guard EVP_PKEY_derive_init(ctx) == 1,
              EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1,
              EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, Int32(salt.count)) == 1,
              EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, Int32(secret.count)) == 1,
              EVP_PKEY_CTX_add1_hkdf_info(ctx, info, Int32(info.count)) == 1,
              EVP_PKEY_derive(ctx, &out, &length) == 1, length == count
        else { throw lastError("HKDF-SHA256") }
        return out
    }

    /// AES-256-GCM: returns ciphertext and the 16-byte tag.
    static func aesGCMSeal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> (ciphertext: [UInt8], tag: [UInt8]) {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw lastError("cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: 16)
        var length: Int32 = 0, final: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
              EVP_EncryptInit_ex(ctx, nil, nil, key, nonce) == 1,
              EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_EncryptUpdate(ctx, &ciphertext, &length, plaintext, Int32(plaintext.count)) == 1,
              ciphertext.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(ctx, $0.baseAddress! + Int(length), &final) }) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1
        else { throw lastError("AES-256-GCM encrypt") }
        return (Array(ciphertext.prefix(Int(length + final))), tag)
    }

    /// AES-256-GCM open; nil when authentication fails.
    static func aesGCMOpen(key: [UInt8], nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]) throws -> [UInt8]? {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw lastError("cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0, final: Int32 = 0
        var tag = tag
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
              EVP_DecryptInit_ex(ctx, nil, nil, key, nonce) == 1,
              EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_DecryptUpdate(ctx, &plaintext, &length, ciphertext, Int32(ciphertext.count)) == 1,
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &tag) == 1
        else { throw lastError("AES-256-GCM decrypt") }
        let ok = plaintext.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + Int(length), &final) } == 1
        ERR_clear_error()
        return ok ? Array(plaintext.prefix(Int(length + final))) : nil
    }

    /// One AES-256 block in ECB mode without padding: a keyed pseudo-random permutation of 128 bits.
    static func aesBlock(key: [UInt8], block: [UInt8], encrypt: Bool) throws -> [UInt8] {
        precondition(block.count == 16 && key.count == 32)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw lastError("cipher context") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: 32)
        var length: Int32 = 0
        guard EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), nil, key, nil, encrypt ? 1 : 0) == 1,
              EVP_CIPHER_CTX_set_padding(ctx, 0) == 1,
              EVP_CipherUpdate(ctx, &out, &length, block, 16) == 1, length == 16
        else { throw lastError("AES-256 block") }
        return Array(out.prefix(16))
    }

    static func hmacSHA256(key: [UInt8], message: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &out, &length) != nil, length == 32 else {
            throw lastError("HMAC-SHA256")
        }
        return out
    }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// The OpenSSL libcrypto this build links, for `tracemark doctor`.
public enum CryptoLibrary {
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }
}
