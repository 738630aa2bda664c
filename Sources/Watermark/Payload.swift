/// A master the released audio was made from, with the version of the rights policy that allowed it.
public struct SourceTrack: Sendable, Equatable {
    public var trackID: Int64
    public var policyVersion: Int64
    public init(trackID: Int64, policyVersion: Int64) {
        self.trackID = trackID
        self.policyVersion = policyVersion
    }
}

/// A stretch of the released audio where a master's recording was taken out and replaced with new
/// material because its policy said `replace`.
public struct ReplacedSegment: Sendable, Equatable {
    public var trackID: Int64
    public var policyVersion: Int64
    /// The stretch in the released audio, in milliseconds.
    public var startMilliseconds: UInt32
    public var endMilliseconds: UInt32
    public init(trackID: Int64, policyVersion: Int64, startMilliseconds: UInt32, endMilliseconds: UInt32) {
        self.trackID = trackID
        self.policyVersion = policyVersion
        self.startMilliseconds = startMilliseconds
        self.endMilliseconds = endMilliseconds
    }
}

/// What an issuance records: who asked, for what, from which masters, which audio went in and out,
/// and which keys were used. Encrypted to the auditor inside a `Certificate`.
///
/// Canonical encoding (big-endian, no padding; every value has exactly one encoding and decoding
/// rejects anything else, trailing bytes included):
///
///     u8   version (2; version 1 has neither replacements nor verification id)
///     u64  serial
///     i64  issuedAt, Unix time in milliseconds
///     u32  requester uid (the peer's uid from the socket)
///     u16  purpose length, then that many bytes of UTF-8 (at most 1024)
///     u16  source count (at most 4096), then per source: i64 track id, i64 policy version
///     u16  replacement count (at most 4096), then per replacement: i64 track id, i64 policy
///          version, u32 start ms, u32 end ms
///     i64  verification id (the rights verification that decided; 0 for none)
///     32   SHA-256 of the input audio
///     32   SHA-256 of the output audio
///     8    signing key id, 8 auditor key id, 8 mark key id
public struct IssuancePayload: Sendable, Equatable {
    public static let encodingVersion: UInt8 = 2
    public static let maxPurposeBytes = 1024
    public static let maxSources = 4096

    public var serial: UInt64
    public var issuedAtMilliseconds: Int64
    public var requesterUID: UInt32
    public var purpose: String
    public var sources: [SourceTrack]
    public var replacements: [ReplacedSegment]
    public var verificationID: Int64
    public var inputSHA256: [UInt8]
    public var outputSHA256: [UInt8]
    public var signingKeyID: KeyID
    public var auditorKeyID: KeyID
    public var markKeyID: KeyID

    public init(serial: UInt64, issuedAtMilliseconds: Int64, requesterUID: UInt32, purpose: String,
                sources: [SourceTrack], replacements: [ReplacedSegment] = [], verificationID: Int64 = 0,
                inputSHA256: [UInt8], outputSHA256: [UInt8],
                signingKeyID: KeyID, auditorKeyID: KeyID, markKeyID: KeyID) {
        self.serial = serial
        self.issuedAtMilliseconds = issuedAtMilliseconds
        self.requesterUID = requesterUID
        self.purpose = purpose
        self.sources = sources
        self.replacements = replacements
        self.verificationID = verificationID
        self.inputSHA256 = inputSHA256
        self.outputSHA256 = outputSHA256
        self.signingKeyID = signingKeyID
        self.auditorKeyID = auditorKeyID
        self.markKeyID = markKeyID
    }

    public func encoded() throws -> [UInt8] {
        let purposeBytes = Array(purpose.utf8)
        guard purposeBytes.count <= Self.maxPurposeBytes else {
            throw WatermarkError.payloadFieldOutOfRange("purpose is \(purposeBytes.count) bytes of UTF-8; at most \(Self.maxPurposeBytes)")
        }
        guard sources.count <= Self.maxSources else {
            throw WatermarkError.payloadFieldOutOfRange("\(sources.count) sources; at most \(Self.maxSources)")
        }
        guard replacements.count <= Self.maxSources else {
            throw WatermarkError.payloadFieldOutOfRange("\(replacements.count) replaced segments; at most \(Self.maxSources)")
        }
        guard inputSHA256.count == 32 else { throw WatermarkError.payloadFieldOutOfRange("input SHA-256 is \(inputSHA256.count) bytes, not 32") }
        guard outputSHA256.count == 32 else { throw WatermarkError.payloadFieldOutOfRange("output SHA-256 is \(outputSHA256.count) bytes, not 32") }
        var w = ByteWriter()
        w.u8(Self.encodingVersion)
        w.u64(serial)
        w.u64(UInt64(bitPattern: issuedAtMilliseconds))
        w.u32(requesterUID)
        w.u16(UInt16(purposeBytes.count))
        w.bytes(purposeBytes)
        w.u16(UInt16(sources.count))
        for source in sources {
            w.u64(UInt64(bitPattern: source.trackID))
            w.u64(UInt64(bitPattern: source.policyVersion))
        }
        w.u16(UInt16(replacements.count))
        for r in replacements {
            w.u64(UInt64(bitPattern: r.trackID))
            w.u64(UInt64(bitPattern: r.policyVersion))
            w.u32(r.startMilliseconds)
            w.u32(r.endMilliseconds)
        }
        w.u64(UInt64(bitPattern: verificationID))
        w.bytes(inputSHA256)
        w.bytes(outputSHA256)
        w.bytes(signingKeyID.bytes)
        w.bytes(auditorKeyID.bytes)
        w.bytes(markKeyID.bytes)
        return w.data
    }

    public init(encoded data: [UInt8]) throws {
        var r = ByteReader(data, fail: WatermarkError.malformedPayload)
        let version = try r.u8()
        guard version == 1 || version == Self.encodingVersion else {
            throw WatermarkError.malformedPayload("encoding version \(version); this build reads versions 1 and \(Self.encodingVersion)")
        }
        serial = try r.u64()
        issuedAtMilliseconds = Int64(bitPattern: try r.u64())
        requesterUID = try r.u32()
        let purposeLength = Int(try r.u16())
        guard purposeLength <= Self.maxPurposeBytes else { throw WatermarkError.malformedPayload("purpose longer than \(Self.maxPurposeBytes) bytes") }
        let purposeBytes = try r.bytes(purposeLength)
        guard let purpose = String(validating: purposeBytes, as: UTF8.self) else {
            throw WatermarkError.malformedPayload("purpose is not valid UTF-8")
        }
        self.purpose = purpose
        let count = Int(try r.u16())
        guard count <= Self.maxSources else { throw WatermarkError.malformedPayload("more than \(Self.maxSources) sources") }
        var sources: [SourceTrack] = []
        for _ in 0..<count {
            sources.append(SourceTrack(trackID: Int64(bitPattern: try r.u64()), policyVersion: Int64(bitPattern: try r.u64())))
        }
        self.sources = sources
        var replacements: [ReplacedSegment] = []
        verificationID = 0
        if version >= 2 {
            let count = Int(try r.u16())
            guard count <= Self.maxSources else { throw WatermarkError.malformedPayload("more than \(Self.maxSources) replaced segments") }
            for _ in 0..<count {
                replacements.append(ReplacedSegment(trackID: Int64(bitPattern: try r.u64()), policyVersion: Int64(bitPattern: try r.u64()),
                                                    startMilliseconds: try r.u32(), endMilliseconds: try r.u32()))
            }
            verificationID = Int64(bitPattern: try r.u64())
        }
        self.replacements = replacements
        inputSHA256 = try r.bytes(32)
        outputSHA256 = try r.bytes(32)
        signingKeyID = try KeyID(bytes: r.bytes(8))
        auditorKeyID = try KeyID(bytes: r.bytes(8))
        markKeyID = try KeyID(bytes: r.bytes(8))
        guard r.remaining == 0 else { throw WatermarkError.malformedPayload("\(r.remaining) trailing bytes") }
    }
}

struct ByteWriter {
    var data: [UInt8] = []
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u16(_ v: UInt16) { data.append(UInt8(v >> 8)); data.append(UInt8(v & 0xff)) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
}

struct ByteReader {
    let data: [UInt8]
    var position = 0
    let fail: (String) -> WatermarkError

    init(_ data: [UInt8], fail: @escaping (String) -> WatermarkError) {
        self.data = data
        self.fail = fail
    }

    var remaining: Int { data.count - position }

    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n <= remaining else { throw fail("truncated: needed \(n) more bytes at offset \(position), \(remaining) left") }
        defer { position += n }
        return Array(data[position..<(position + n)])
    }

    mutating func u8() throws -> UInt8 { try bytes(1)[0] }
    mutating func u16() throws -> UInt16 { try bytes(2).reduce(0) { $0 << 8 | UInt16($1) } }
    mutating func u32() throws -> UInt32 { try bytes(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try bytes(8).reduce(0) { $0 << 8 | UInt64($1) } }
}
