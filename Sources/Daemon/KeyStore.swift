import Foundation
import Watermark
#if canImport(Glibc)
import Glibc
#endif

/// The registry's keys on disk, under `<data-dir>/keys/`:
///
/// - `signing-<id>.pem`: Ed25519 private key that signs watermark certificates (mode 0600);
/// - `mark-<id>.key`: the secret mark key, 64 hex digits (mode 0600);
/// - `auditor-<id>.pub.pem`: the auditor's X25519 public key, what payloads are encrypted to;
/// - `current`: which of them new issuances use (`signing <id>`, `mark <id>`, `auditor <id>` lines).
///
/// The auditor's private key is never stored here: it goes only to a path the operator names, to be
/// kept off the host. Rotation adds keys and moves `current`; old keys stay for verification.
public struct KeyStore: Sendable {
    public let directory: String

    public enum Kind: String, Sendable, CaseIterable { case signing, mark, auditor }

    public struct Entry: Sendable, Equatable {
        public let kind: Kind
        public let id: String
        public let path: String
        public let isCurrent: Bool
    }

    public init(dataDirectory: String) {
        directory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("keys").standardizedFileURL.path
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: directory + "/current") }

    /// Creates the first keys. `auditorOut` receives a new auditor private key; alternatively
    /// `auditorPublic` names an existing auditor public key (PEM) to encrypt to.
    public func initialize(auditorOut: String?, auditorPublic: String?) throws -> [Entry] {
        guard !exists else { throw KeyStoreError.exists(directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return try addKeys(auditorOut: auditorOut, auditorPublic: auditorPublic, requireAuditor: true)
    }

    /// New signing and mark keys (and a new auditor key when one is given); old keys are kept.
    public func rotate(auditorOut: String?, auditorPublic: String?) throws -> [Entry] {
        guard exists else { throw KeyStoreError.missing(directory) }
        return try addKeys(auditorOut: auditorOut, auditorPublic: auditorPublic, requireAuditor: false)
    }

    /// Every key file, current ones marked.
    public func entries() throws -> [Entry] {
        let current = try currentIDs()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        return files.compactMap { name in
            for kind in Kind.allCases {
                let suffix = kind == .signing ? ".pem" : kind == .mark ? ".key" : ".pub.pem"
                guard name.hasPrefix(kind.rawValue + "-"), name.hasSuffix(suffix) else { continue }
                let id = String(name.dropFirst(kind.rawValue.count + 1).dropLast(suffix.count))
                return Entry(kind: kind, id: id, path: directory + "/" + name, isCurrent: current[kind] == id)
            }
            return nil
        }
    }

    /// The public halves of every signing key, current and retired, by key id: what ledger rows and
    /// certificates are verified with.
    public func verifyingKeys() throws -> [String: VerifyingKey] {
        var keys: [String: VerifyingKey] = [:]
        for entry in try entries() where entry.kind == .signing {
            let text: String
            do { text = try String(contentsOfFile: entry.path, encoding: .utf8) } catch {
                throw KeyStoreError.unreadable(entry.path, error.localizedDescription)
            }
            let key = try SigningKey(pem: text).publicKey
            keys[key.id.hex] = key
        }
        return keys
    }

    /// The keys new issuances use, as `current` names them.
    public func currentKeys() throws -> IssuingKeys {
        guard exists else { throw KeyStoreError.missing(directory) }
        let current = try currentIDs()
        func id(_ kind: Kind) throws -> String {
            guard let id = current[kind] else {
                throw KeyStoreError.usage("\(directory)/current names no \(kind.rawValue) key; run `tracemark keys rotate` to add one")
            }
            return id
        }
        let signing = try load(path(.signing, id(.signing))) { try SigningKey(pem: $0) }
        let mark = try load(path(.mark, id(.mark))) { try MarkKey(hex: $0) }
        let auditor = try load(path(.auditor, id(.auditor))) { try AuditorPublicKey(pem: $0) }
        return IssuingKeys(signing: signing, mark: mark, auditor: auditor)
    }

    /// Every mark key, current first then retired ones: what detection tries.
    public func markKeys() throws -> [MarkKey] {
        let entries = try entries().filter { $0.kind == .mark }
        return try (entries.filter(\.isCurrent) + entries.filter { !$0.isCurrent }).map { entry in
            try load(entry.path) { try MarkKey(hex: $0) }
        }
    }

    /// Reads and parses one key file; failures name the file.
    private func load<Key>(_ path: String, _ parse: (String) throws -> Key) throws -> Key {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KeyStoreError.unreadable(path, error.localizedDescription)
        }
        do { return try parse(text) } catch {
            throw KeyStoreError.unreadable(path, "\(error)")
        }
    }

    /// Refuses private key files that anyone but their owner can read or write.
    public func checkPermissions() throws {
        guard FileManager.default.fileExists(atPath: directory) else { return }
        for entry in try entries() where entry.kind != .auditor {
            var status = stat()
            guard stat(entry.path, &status) == 0 else { throw KeyStoreError.unreadable(entry.path, String(cString: strerror(errno))) }
            let mode = status.st_mode & 0o777
            if mode & 0o077 != 0 { throw KeyStoreError.loosePermissions(entry.path, mode: mode) }
        }
    }

    private func addKeys(auditorOut: String?, auditorPublic: String?, requireAuditor: Bool) throws -> [Entry] {
        guard auditorOut == nil || auditorPublic == nil else {
            throw KeyStoreError.usage("give either --auditor-out (make a new auditor key) or --auditor-public (use an existing one), not both")
        }
        var current = (try? currentIDs()) ?? [:]
        if let auditorOut {
            let out = URL(fileURLWithPath: auditorOut).standardizedFileURL.path
            let dataDirectory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
            guard !out.hasPrefix(dataDirectory + "/") else {
                throw KeyStoreError.usage("--auditor-out \(auditorOut) is inside the data directory; the auditor's private key belongs off this host")
            }
            let auditor = try AuditorPrivateKey.generate()
            try Self.write(try auditor.pem(), to: out, mode: 0o600)
            try Self.write(try auditor.publicKey.pem(), to: path(.auditor, auditor.id.hex), mode: 0o644)
            current[.auditor] = auditor.id.hex
        } else if let auditorPublic {
            let text: String
            do { text = try String(contentsOfFile: auditorPublic, encoding: .utf8) } catch {
                throw KeyStoreError.unreadable(auditorPublic, error.localizedDescription)
            }
            let key = try AuditorPublicKey(pem: text)
            if !FileManager.default.fileExists(atPath: path(.auditor, key.id.hex)) {
                try Self.write(try key.pem(), to: path(.auditor, key.id.hex), mode: 0o644)
            }
            current[.auditor] = key.id.hex
        } else if requireAuditor {
            throw KeyStoreError.usage("name where the auditor's new private key goes (--auditor-out FILE, kept off this host) or an existing auditor public key (--auditor-public FILE)")
        }
        let signing = try SigningKey.generate()
        try Self.write(try signing.pem(), to: path(.signing, signing.id.hex), mode: 0o600)
        let mark = try MarkKey.generate()
        try Self.write(mark.hex + "\n", to: path(.mark, mark.id.hex), mode: 0o600)
        current[.signing] = signing.id.hex
        current[.mark] = mark.id.hex
        let manifest = Kind.allCases.compactMap { kind in current[kind].map { "\(kind.rawValue) \($0)\n" } }.joined()
        // Written to a temporary name and renamed, so `current` is never half-written.
        let temporary = directory + "/current.new"
        unlink(temporary)
        try Self.write(manifest, to: temporary, mode: 0o644)
        guard rename(temporary, directory + "/current") == 0 else {
            throw KeyStoreError.unwritable(directory + "/current", String(cString: strerror(errno)))
        }
        return try entries()
    }

    private func path(_ kind: Kind, _ id: String) -> String {
        directory + "/\(kind.rawValue)-\(id)" + (kind == .signing ? ".pem" : kind == .mark ? ".key" : ".pub.pem")
    }

    private func currentIDs() throws -> [Kind: String] {
        let text: String
        do { text = try String(contentsOfFile: directory + "/current", encoding: .utf8) } catch {
            throw KeyStoreError.missing(directory)
        }
        var ids: [Kind: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let kind = Kind(rawValue: String(parts[0])) { ids[kind] = String(parts[1]) }
        }
        return ids
    }

    /// Creates `path` with `mode` from the start (never briefly readable by others); refuses to
    /// overwrite.
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw KeyStoreError.unwritable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw KeyStoreError.unwritable(path, String(cString: strerror(errno))) } // past the umask
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw KeyStoreError.unwritable(path, String(cString: strerror(errno))) }
    }
}

/// The keys one issuance uses: the registry's signing key, the mark key, the auditor's public key.
public struct IssuingKeys: Sendable {
    public let signing: SigningKey
    public let mark: MarkKey
    public let auditor: AuditorPublicKey

    public init(signing: SigningKey, mark: MarkKey, auditor: AuditorPublicKey) {
        self.signing = signing
        self.mark = mark
        self.auditor = auditor
    }
}

public enum KeyStoreError: Error, CustomStringConvertible, Sendable {
    case exists(String)
    case missing(String)
    case loosePermissions(String, mode: mode_t)
    case unreadable(String, String)
    case unwritable(String, String)
    case usage(String)

    public var description: String {
        switch self {
        case let .exists(directory): return "keys already exist in \(directory); use `tracemark keys rotate` to add new ones"
        case let .missing(directory): return "no keys in \(directory); create them with `tracemark keys init --auditor-out FILE`"
        case let .loosePermissions(path, mode):
            return "the private key file \(path) is readable or writable by others (mode \(String(mode, radix: 8))); run `chmod 600 \(path)`"
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .unwritable(path, reason): return "cannot write \(path): \(reason)"
        case let .usage(message): return message
        }
    }
}
