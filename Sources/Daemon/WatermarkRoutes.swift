import Audio
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Registry
import Watermark

/// The watermark routes (docs/openapi.yaml): `POST /v1/watermarks` issues, `GET
/// /v1/watermarks/{serial}` hands out the certificate, `POST /v1/watermarks/detect` finds a mark.
/// Keys are read from `<data-dir>/keys` on every request, so a `tracemark keys rotate` takes
/// effect without a restart.
extension Routes {
    static let serialHeader = HTTPField.Name("Tracemark-Serial")!

    func issueWatermark(_ request: Request, _ context: DaemonContext) async throws -> Response {
        let query = request.uri.queryParameters
        let raw = try rawFormat(query)
        let asked = try outputFormat(query)
        let purpose = String(query["purpose"] ?? "")
        let sources = try Self.sources(query[values: "source"])
        try checkContentType(request, raw: raw)
        let body = try await collect(request.body, declaredLength: request.headers[.contentLength].flatMap { Int($0) })
        guard !body.isEmpty else { throw APIError.emptyBody }
        let uid = await context.peer().map { UInt32(bitPattern: $0.uid) } ?? UInt32.max
        let keyStore = KeyStore(dataDirectory: configuration.dataDirectory)
        let maxSeconds = configuration.maxWatermarkSeconds
        let pool = self.pool
        let (issued, format) = try await threads.runIfActive { () throws -> (IssuedWatermark, AudioFileFormat) in
            let keys = try keyStore.currentKeys()
            let (audio, format) = try Self.decodeForRelease(body, raw: raw, asked: asked, maxSeconds: maxSeconds)
            try Issuer.check(audio, purpose: purpose, sources: sources)
            // An issuance is a write: not repeated on a stale connection.
            let issued = try pool.withConnection(retryOnStaleConnection: false) { db in
                try Issuer(keys: keys).issue(audio, inputSHA256: ContentDigest.sha256(body), purpose: purpose, requesterUID: uid,
                                             sources: sources, db: db) { try AudioWriter.encode($0, as: format) }
            }
            return (issued, format)
        }
        context.summary.set("serial", issued.serial)
        context.summary.set("signal_to_watermark_db", String(format: "%.1f", issued.report.signalToWatermarkDB))
        return Response(status: .ok,
                        headers: [.contentType: format.mediaType, Self.serialHeader: String(issued.serial)],
                        body: .init(byteBuffer: ByteBuffer(bytes: issued.output)))
    }

    func watermarkCertificate(_ context: DaemonContext) async throws -> Response {
        let text = context.parameters.get("serial") ?? ""
        guard let serial = UInt64(text), serial > 0, serial <= UInt64(Int64.max) else {
            throw APIError.badParameter("serial '\(text)' is not a positive integer")
        }
        guard let row = try await database({ try Ledger($0).row(serial: serial) }) else {
            throw APIError(.notFound, code: "watermark_not_found", "no watermark with serial \(serial) in the ledger")
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream", Self.serialHeader: String(serial)],
                        body: .init(byteBuffer: ByteBuffer(bytes: row.certificate)))
    }

    func detectWatermark(_ request: Request, _ context: DaemonContext) async throws -> Response {
        let raw = try rawFormat(request.uri.queryParameters)
        try checkContentType(request, raw: raw)
        let body = try await collect(request.body, declaredLength: request.headers[.contentLength].flatMap { Int($0) })
        guard !body.isEmpty else { throw APIError.emptyBody }
        let keyStore = KeyStore(dataDirectory: configuration.dataDirectory)
        let decoder = AudioDecoder(targetSampleRate: WatermarkAudit.sampleRate,
                                   maxDuration: max(configuration.maxQuerySeconds, configuration.maxWatermarkSeconds))
        let pool = self.pool
        let answer = try await threads.runIfActive { () throws -> WatermarkDetectAnswer in
            let audit = try WatermarkAudit(keyStore: keyStore)
            let audio = try decoder.decode(bytes: body, source: "request body", raw: raw)
            let detection = try audit.findMark(mono: audio.samples, sampleRate: audio.sampleRate)
            return try pool.withConnection(retryOnStaleConnection: true) { try audit.answer(for: detection, db: $0) }
        }
        context.summary.set("mark", answer.serial.map { "serial \($0)" } ?? "none")
        return try json(answer)
    }

    /// Audio to be released marked (a watermark, a remix): every channel at its own rate, and the
    /// format to answer in: `asked`, else the body's own (at its bit depth when the container is the same).
    static func decodeForRelease(_ body: [UInt8], raw: RawPCMFormat?, asked: AudioFileFormat?, maxSeconds: Double) throws -> (AudioBuffer, AudioFileFormat) {
        let (audio, given) = try AudioDecoder.decodeMultichannel(bytes: body, source: "request body", raw: raw, maxDuration: maxSeconds)
        var format = asked ?? given
        if format.container == given.container { format.bitDepth = given.bitDepth }
        do { try AudioWriter.checkEncodable(format, sampleRate: audio.sampleRate, channels: audio.channelCount) } catch {
            throw APIError.badParameter("\(error); ask for another output (e.g. output=wav)")
        }
        return (audio, format)
    }

    /// `source=TRACK:VERSION`, repeated or comma-separated.
    static func sources(_ values: [Substring]) throws -> [SourceTrack] {
        try values.flatMap { $0.split(separator: ",") }.map { item in
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let track = Int64(parts[0]), let version = Int64(parts[1]), track > 0, version > 0 else {
                throw APIError.badParameter("source '\(item)' is not TRACK:VERSION (a track id and the version of the policy that allowed the use)")
            }
            return SourceTrack(trackID: track, policyVersion: version)
        }
    }
}
