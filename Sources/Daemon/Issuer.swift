import Audio
import Foundation
import Registry
import Watermark

/// One issued watermark: the marked audio as it is handed out, and what the ledger recorded.
public struct IssuedWatermark: Sendable {
    public let serial: UInt64
    public let row: LedgerRow
    public let payload: IssuancePayload
    /// The marked audio, encoded: exactly the bytes whose SHA-256 the payload holds.
    public let output: [UInt8]
    public let report: EmbeddingReport
}

/// Why an issuance was refused before anything was written.
public enum IssuanceError: Error, CustomStringConvertible, Sendable {
    /// The audio cannot carry a detectable mark (rate or length).
    case unsuitableAudio(String)
    /// Purpose or sources out of range, or sources naming tracks the catalog does not hold.
    case badRequest(String)

    public var description: String {
        switch self {
        case let .unsuitableAudio(message): return "cannot watermark this audio: \(message)"
        case let .badRequest(message): return message
        }
    }
}

/// Issues watermarks: embeds the mark of a fresh serial, seals the certificate (encrypted to the
/// auditor, signed by the registry) and appends the ledger row, all inside one transaction.
///
/// The serial comes from the `watermark_serials` sequence under the ledger's table lock, and the
/// mark depends on it, so embedding and encoding run inside that transaction: issuances are
/// serialised (one embedding at a time), and a failure anywhere (embedding, encoding, sealing,
/// the insert) rolls everything back, so there is never a row without its audio or audio
/// without its row. A sequence value used by a rolled-back issuance is skipped; serials then have
/// a gap, which the chain allows (it links rows, not consecutive serials). Blocking: run it on a
/// thread meant for that.
public struct Issuer: Sendable {
    /// Audio shorter than this cannot hold one whole mark block (7.17 s) with room for detection.
    public static let minimumSeconds = 8.0

    public let keys: IssuingKeys
    public var embedder: WatermarkEmbedder

    public init(keys: IssuingKeys, embedder: WatermarkEmbedder = WatermarkEmbedder()) {
        self.keys = keys
        self.embedder = embedder
    }

    /// Checks what can be checked before any write: the audio, the purpose and the sources.
    public static func check(_ audio: AudioBuffer, purpose: String, sources: [SourceTrack]) throws {
        guard audio.sampleRate >= 16_000 else {
            throw IssuanceError.unsuitableAudio("the sample rate is \(audio.sampleRate) Hz; marks need at least 16000 Hz")
        }
        guard audio.duration >= minimumSeconds else {
            throw IssuanceError.unsuitableAudio(String(format: "%.2f s of audio; a mark needs at least %.0f s", audio.duration, minimumSeconds))
        }
        let purposeBytes = purpose.utf8.count
        guard purposeBytes <= IssuancePayload.maxPurposeBytes else {
            throw IssuanceError.badRequest("purpose is \(purposeBytes) bytes of UTF-8; at most \(IssuancePayload.maxPurposeBytes)")
        }
        guard sources.count <= IssuancePayload.maxSources else {
            throw IssuanceError.badRequest("\(sources.count) sources; at most \(IssuancePayload.maxSources)")
        }
        for source in sources where source.trackID < 1 || source.trackID > Int64(Int32.max) || source.policyVersion < 0 {
            throw IssuanceError.badRequest("source \(source.trackID):\(source.policyVersion) is not a track id and a policy version (0 for the default policy)")
        }
    }

    /// Issues one watermark for `audio` (whose file had SHA-256 `inputSHA256`) and returns the
    /// marked audio as `encode` turns it into bytes. `encode` runs inside the transaction: if it
    /// throws, nothing is recorded.
    public func issue(_ audio: AudioBuffer, inputSHA256: [UInt8], purpose: String, requesterUID: UInt32,
                      sources: [SourceTrack], replacements: [ReplacedSegment] = [], verificationID: Int64 = 0, db: PostgresConnection,
                      encode: (AudioBuffer) throws -> [UInt8]) throws -> IssuedWatermark {
        try Self.check(audio, purpose: purpose, sources: sources)
        let ids = Array(Set(sources.map { Int32($0.trackID) }))
        if !ids.isEmpty {
            let known = try Catalog(db).tracks(ids: ids)
            let missing = ids.filter { known[$0] == nil }.sorted()
            guard missing.isEmpty else {
                throw IssuanceError.badRequest("source track\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) not in the catalog")
            }
        }
        let keys = self.keys, embedder = self.embedder
        var issued: (payload: IssuancePayload, output: [UInt8], report: EmbeddingReport)?
        let row = try Ledger(db).append { serial, previous in
            let issuedAt = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            let (marked, report) = try Watermark.embed(serial: serial, key: keys.mark, into: audio, embedder: embedder)
            let output = try encode(marked)
            let payload = IssuancePayload(
                serial: serial, issuedAtMilliseconds: issuedAt, requesterUID: requesterUID, purpose: purpose,
                sources: sources, replacements: replacements, verificationID: verificationID,
                inputSHA256: inputSHA256, outputSHA256: ContentDigest.sha256(output),
                signingKeyID: keys.signing.id, auditorKeyID: keys.auditor.id, markKeyID: keys.mark.id)
            let certificate = try Certificate.issue(payload, signingKey: keys.signing, auditor: keys.auditor)
            issued = (payload, output, report)
            return try LedgerRow.make(serial: serial, issuedAtMilliseconds: issuedAt, certificate: certificate.bytes,
                                      previous: previous, signingKey: keys.signing)
        }
        guard let issued else { throw IssuanceError.badRequest("the ledger appended no row") }
        return IssuedWatermark(serial: row.serial, row: row, payload: issued.payload, output: issued.output, report: issued.report)
    }
}
