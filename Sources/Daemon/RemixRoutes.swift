import Audio
import Foundation
import HTTPTypes
import HummingbirdCore
import Hummingbird
import NIOCore
import Registry
import Remix
import Watermark

/// `POST /v1/remix` (docs/openapi.yaml): the audio as the body, the edit as query parameters
/// (`style`, `edit`, `tempo`, `pitch`, `trim`, `stem`), the rights question as `use` (default
/// remix), `territory` and `at`. Answers the marked audio with its report in `Tracemark-Report`,
/// or 451 with the report in the error body when the rights refuse it.
extension Routes {
    static let reportHeader = HTTPField.Name("Tracemark-Report")!
    static let unavailableForLegalReasons = HTTPResponse.Status(code: 451, reasonPhrase: "Unavailable For Legal Reasons")

    func remix(_ request: Request, _ context: DaemonContext) async throws -> Response {
        let query = request.uri.queryParameters
        let raw = try rawFormat(query)
        let (use, territory, at) = try rightsQuestion(query, defaultUse: .remix)
        let asked = try outputFormat(query)
        let seed: UInt64 = try query["seed"].map { text in
            guard let value = UInt64(text) else { throw APIError.badParameter("seed '\(text)' is not a whole number from 0 to \(UInt64.max)") }
            return value
        } ?? 1
        var options = RemixOptions()
        options.trim = try query["trim"].map { try RemixOptions.trim(parsing: String($0)) }
        options.stem = try query["stem"].map { text in
            guard let stem = Stem(rawValue: String(text)) else {
                throw APIError.badParameter("stem '\(text)' is not one of \(Stem.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return stem
        }
        options.style = query["style"].map(String.init)
        options.edit = try query["edit"].map { try EditParser.parse(String($0), source: "edit") }
        options.tempo = try number(query, "tempo")
        options.pitch = try number(query, "pitch")
        try options.validate()
        let styles = StyleLibrary(directories: StyleLibrary.standardDirectories(explicit: configuration.stylesDirectory))
        let edit = try options.composed(styles: styles)
        let colour = try options.style.map { SegmentGenerator.colour(of: try styles.style(named: $0).edit) } ?? []
        let remixRequest = RemixRequest(edit: edit, style: options.style, colour: colour, use: use, territory: territory, at: at, seed: seed)

        try checkContentType(request, raw: raw)
        let body = try await collect(request.body, declaredLength: request.headers[.contentLength].flatMap { Int($0) })
        guard !body.isEmpty else { throw APIError.emptyBody }
        let peer = await context.peer()
        let keyStore = KeyStore(dataDirectory: configuration.dataDirectory)
        let maxSeconds = configuration.maxWatermarkSeconds
        let pipeline = RemixPipeline(verifier: Verifier(defaultPolicy: configuration.defaultPolicy), maxRounds: configuration.maxReplacementRounds)
        let pool = self.pool
        let (result, format) = try await threads.runIfActive { () throws -> (RemixResult, AudioFileFormat) in
            let keys = try keyStore.currentKeys()
            let (audio, format) = try Self.decodeForRelease(body, raw: raw, asked: asked, maxSeconds: maxSeconds)
            // Verification and issuance are writes: not repeated on a stale connection.
            let result = try pool.withConnection(retryOnStaleConnection: false) { db in
                try pipeline.run(audio, inputSHA256: ContentDigest.sha256(body), request: remixRequest, peer: peer, keys: keys, db: db) {
                    try AudioWriter.encode($0, as: format)
                }
            }
            return (result, format)
        }
        let report = result.report
        context.summary.set("decision", "\(report.decision.rawValue) for \(use.rawValue) in \(territory)")
        context.summary.set("verification", report.verification_id)
        context.summary.set("released", report.released)
        context.summary.set("replaced_segments", report.segments.filter { $0.outcome == .replaced }.count)
        if let serial = report.serial { context.summary.set("serial", serial) }
        guard let output = result.output, let serial = report.serial else {
            let reasons = report.segments.filter { $0.outcome == .refused }.map { s in
                String(format: "%.1f-%.1f s: %@", s.segment.start_s, s.segment.end_s, s.replacement.map { r in
                    "no acceptable replacement in \(r.rounds.count) round\(r.rounds.count == 1 ? "" : "s"); the policy falls back to block"
                } ?? s.segment.reason)
            }
            var error = APIError(Self.unavailableForLegalReasons, code: "blocked",
                                 "the rights refuse this \(use.rawValue) in \(territory): " + reasons.joined(separator: "; "))
            error.report = report
            throw error
        }
        let t = result.timings
        func ms(_ d: Duration) -> String { String(format: "%.1f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) * 1e-15) }
        return Response(status: .ok,
                        headers: [.contentType: format.mediaType, Self.serialHeader: String(serial),
                                  Self.reportHeader: Self.asciiJSON(try APIJSON.encode(report)),
                                  Self.serverTiming: "render;dur=\(ms(t.render)), verify;dur=\(ms(t.verify)), replace;dur=\(ms(t.replace)), issue;dur=\(ms(t.issue))"],
                        body: .init(byteBuffer: ByteBuffer(bytes: output)))
    }

    /// `output=wav|flac|...`: the container to answer in; nil keeps the input's.
    func outputFormat(_ query: FlatDictionary<Substring, Substring>) throws -> AudioFileFormat? {
        try query["output"].map { text in
            guard let format = AudioFileFormat(fileExtension: String(text)) else {
                throw APIError.badParameter("output '\(text)' is not one of \(AudioFileFormat.Container.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return format
        }
    }

    func number(_ query: FlatDictionary<Substring, Substring>, _ name: String) throws -> Double? {
        try query[Substring(name)].map { text in
            guard let value = Double(text), value.isFinite else { throw APIError.badParameter("\(name) '\(text)' is not a number") }
            return value
        }
    }

    /// JSON with every character outside ASCII as a \u escape, so it fits in an HTTP header.
    static func asciiJSON(_ data: Data) -> String {
        var out = ""
        for scalar in String(decoding: data, as: UTF8.self).unicodeScalars {
            if scalar.isASCII { out.unicodeScalars.append(scalar); continue }
            for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
        }
        return out
    }
}
