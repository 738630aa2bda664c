import Audio
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOPosix
import Registry
import Rights

/// A stored track as the API shows it.
public struct TrackInfo: Codable, Sendable, Equatable {
    public let id: Int32
    public let source_path: String
    public let content_sha256: String
    public let title: String?
    public let artist: String?
    public let album: String?
    public let isrc: String?
    public let duration_s: Double
    public let sample_rate: Int
    public let channels: Int
    public let fingerprint_version: Int
    public let hash_count: Int
    public let ingested_at: Date

    init(_ t: Track) {
        id = t.id; source_path = t.sourcePath; content_sha256 = t.contentSHA256; title = t.title; artist = t.artist
        album = t.album; isrc = t.isrc; duration_s = t.duration; sample_rate = t.sampleRate; channels = t.channels
        fingerprint_version = t.fingerprintVersion; hash_count = t.hashCount; ingested_at = t.ingestedAt
    }

    // Metadata the catalog lacks is `null`, not absent: every track has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(source_path, forKey: .source_path)
        try c.encode(content_sha256, forKey: .content_sha256)
        try c.encode(title, forKey: .title)
        try c.encode(artist, forKey: .artist)
        try c.encode(album, forKey: .album)
        try c.encode(isrc, forKey: .isrc)
        try c.encode(duration_s, forKey: .duration_s)
        try c.encode(sample_rate, forKey: .sample_rate)
        try c.encode(channels, forKey: .channels)
        try c.encode(fingerprint_version, forKey: .fingerprint_version)
        try c.encode(hash_count, forKey: .hash_count)
        try c.encode(ingested_at, forKey: .ingested_at)
    }
}

public struct TrackPage: Codable, Sendable, Equatable {
    public let tracks: [TrackInfo]
    /// Pass as `after` for the next page; null on the last page.
    public let next_after: Int32?

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tracks, forKey: .tracks)
        try c.encode(next_after, forKey: .next_after)
    }
}

/// A recorded verification as the API shows it.
public struct VerificationInfo: Codable, Sendable, Equatable {
    public let id: Int64
    public let requested_at: Date
    public let peer_uid: Int32?
    public let peer_gid: Int32?
    public let peer_pid: Int32?
    public let use: String
    public let territory: String
    public let at: Date
    public let audio_sha256: String
    public let decision: String
    public let segments: [VerifiedSegment]

    init(_ r: VerificationRecord) throws {
        id = r.id; requested_at = r.requestedAt; peer_uid = r.peerUID; peer_gid = r.peerGID; peer_pid = r.peerPID
        use = r.use; territory = r.territory; at = r.evaluatedAt; audio_sha256 = r.audioSHA256; decision = r.decision
        segments = try JSONDecoder().decode([VerifiedSegment].self, from: Data(r.segmentsJSON.utf8))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(requested_at, forKey: .requested_at)
        try c.encode(peer_uid, forKey: .peer_uid)
        try c.encode(peer_gid, forKey: .peer_gid)
        try c.encode(peer_pid, forKey: .peer_pid)
        try c.encode(use, forKey: .use)
        try c.encode(territory, forKey: .territory)
        try c.encode(at, forKey: .at)
        try c.encode(audio_sha256, forKey: .audio_sha256)
        try c.encode(decision, forKey: .decision)
        try c.encode(segments, forKey: .segments)
    }
}

public struct VerificationPage: Codable, Sendable, Equatable {
    public let verifications: [VerificationInfo]
    /// Pass as `after` for the next page; null on the last page.
    public let next_after: Int64?

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(verifications, forKey: .verifications)
        try c.encode(next_after, forKey: .next_after)
    }
}

/// ISO 8601 with or without fractional seconds, or a plain date (midnight UTC).
func parseTimestamp(_ text: String) -> Date? {
    let full = ISO8601DateFormatter()
    if let date = full.date(from: text) { return date }
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = fractional.date(from: text) { return date }
    let day = ISO8601DateFormatter()
    day.formatOptions = [.withFullDate]
    return day.date(from: text)
}

public struct Health: Codable, Sendable, Equatable {
    public struct Catalog: Codable, Sendable, Equatable {
        public let tracks: Int
        public let hours: Double
        public let hashes: Int
    }
    public let status: String
    public let version: String
    public let fingerprint_version: Int
    public let catalog: Catalog
    public let uptime_s: Double
    /// Present when the registry has shards: each one's state as lookups reach it.
    public let shards: [Shard]?

    public struct Shard: Codable, Sendable, Equatable {
        public let name: String
        /// `up` or `down`.
        public let status: String
        /// Why it is down (PostgreSQL's message); absent when up.
        public let error: String?
    }
}

/// The HTTP API (docs/openapi.yaml). Handlers collect the body on the event loop, then run the
/// blocking part (decoding, fingerprinting, libpq) on the daemon's thread pool.
struct Routes: Sendable {
    let configuration: DaemonConfiguration
    let pool: ConnectionPool
    let threads: NIOThreadPool
    let metrics: DaemonMetrics
    let catalogSize: CatalogSizeCache
    let shardStates = RecentValue<[Shards.Probe]>(maxAge: .seconds(5))
    let started = ContinuousClock.now
    let identifier = Identifier()

    static let serverTiming = HTTPField.Name("Server-Timing")!
    /// Every route and its method, in the OpenAPI document's path syntax.
    static let methods: [(path: String, method: HTTPRequest.Method)] = [
        ("/v1/health", .get), ("/v1/match", .post), ("/v1/verify", .post), ("/v1/verifications", .get),
        ("/v1/tracks", .get), ("/v1/tracks/{id}", .get), ("/v1/watermarks", .post), ("/v1/watermarks/{serial}", .get),
        ("/v1/watermarks/detect", .post), ("/v1/remix", .post), ("/metrics", .get),
    ]
    static var paths: [String] { methods.map(\.path) }

    /// The methods the routes matching `path` answer (a `{name}` segment matches any one segment);
    /// empty when no route has that path.
    static func allowedMethods(path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return methods.filter { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.count == segments.count && zip(pattern, segments).allSatisfy { p, s in
                p == s || (p.hasPrefix("{") && !s.isEmpty)
            }
        }.map(\.method)
    }

    func add(to router: Router<DaemonContext>) {
        router.add(middleware: ErrorAndMetricsMiddleware(metrics: metrics))
        router.add(middleware: RouteAccessMiddleware(access: configuration.access))
        router.get("/v1/health") { _, _ in try await health() }
        router.post("/v1/match") { request, context in try await match(request, context) }
        router.post("/v1/verify") { request, context in try await verify(request, context) }
        router.get("/v1/verifications") { request, _ in try await verifications(request) }
        router.get("/v1/tracks") { request, _ in try await tracks(request) }
        router.get("/v1/tracks/:id") { _, context in try await track(context) }
        // Watermarks (WatermarkRoutes.swift): issue, fetch a certificate, detect.
        router.post("/v1/watermarks") { request, context in try await issueWatermark(request, context) }
        router.get("/v1/watermarks/:serial") { _, context in try await watermarkCertificate(context) }
        router.post("/v1/watermarks/detect") { request, context in try await detectWatermark(request, context) }
        // Registry-checked remixes (RemixRoutes.swift).
        router.post("/v1/remix") { request, context in try await remix(request, context) }
        router.get("/metrics") { _, _ in await prometheus() }
    }

    /// Runs blocking database work on the thread pool with a pooled connection.
    func database<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let pool = self.pool
        return try await threads.runIfActive { try pool.withConnection(retryOnStaleConnection: true, body) }
    }

    private func health() async throws -> Response {
        let size = try await catalogSize.value { try await database { try Catalog($0).size() } }
        let uptime = ContinuousClock.now - started
        let answer = Health(status: "ok", version: TracemarkVersion.string,
                            fingerprint_version: Int(identifier.analysis.parameters.version),
                            catalog: .init(tracks: size.tracks, hours: (size.hours * 1000).rounded() / 1000, hashes: size.hashes),
                            uptime_s: (Double(uptime.components.seconds) * 1000 + Double(uptime.components.attoseconds) * 1e-15).rounded() / 1000,
                            shards: try await shardHealth())
        return try json(answer)
    }

    /// Each shard probed the way lookups reach it, at most every 5 s. A shard that is down does
    /// not fail the health check: the daemon and the coordinator are up, restarting or removing
    /// the daemon would not help, and matches already answer 503 naming the shard; monitoring
    /// reads `shards` (docs/operations.md).
    private func shardHealth() async throws -> [Health.Shard]? {
        let probes = try await shardStates.value { try await database { try Shards.check($0, timeoutSeconds: 2) } }
        guard !probes.isEmpty else { return nil }
        return probes.map { Health.Shard(name: $0.shard.name, status: $0.isUp ? "up" : "down", error: $0.problem) }
    }

    private func match(_ request: Request, _ context: DaemonContext) async throws -> Response {
        let top = try integer(request.uri.queryParameters, "top", default: 1, in: 1...configuration.maxTop)
        let identifier = self.identifier, summary = context.summary
        if let explain = request.uri.queryParameters["explain"] {
            guard explain == "svg" else { throw APIError.badParameter("explain '\(explain)' is not supported: use explain=svg for a picture of the match") }
            let (svg, timings) = try await analysed(request) { audio, _, db, timings in
                let (answer, svg) = try identifier.explain(audio, catalog: Catalog(db), timings: &timings)
                summary.set("match", answer.matches.first.map { "track \($0.track_id) at \($0.offset_s) s, score \($0.score)" } ?? "none")
                return svg
            }
            return Response(status: .ok, headers: [.contentType: "image/svg+xml", Self.serverTiming: Self.serverTiming(timings)],
                            body: .init(byteBuffer: ByteBuffer(bytes: Array(svg.utf8))))
        }
        return try await analyse(request) { audio, _, db, timings in
            let answer = try identifier.identify(audio, top: top, catalog: Catalog(db), timings: &timings)
            summary.set("match", answer.matches.first.map { "track \($0.track_id) at \($0.offset_s) s, score \($0.score)" } ?? "none")
            return answer
        }
    }

    private func verify(_ request: Request, _ context: DaemonContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (use, territory, at) = try rightsQuestion(query, defaultUse: nil)
        let peer = await context.peer()
        let verifier = Verifier(defaultPolicy: configuration.defaultPolicy), summary = context.summary
        // A verification is a write: it is not repeated on a stale connection.
        return try await analyse(request, retry: false) { audio, body, db, timings in
            let answer = try verifier.verify(audio, audioSHA256: ContentDigest.sha256(body), use: use, territory: territory, at: at,
                                             peer: peer, db: db, timings: &timings)
            summary.set("decision", "\(answer.decision.rawValue) for \(use.rawValue) in \(territory)")
            summary.set("verification", answer.verification_id)
            return answer
        }
    }

    /// `use`, `territory` and `at` of a rights question (verify, remix); `use` may have a default.
    func rightsQuestion(_ query: FlatDictionary<Substring, Substring>, defaultUse: Use?) throws -> (Use, String, Date) {
        let uses = Use.allCases.map(\.rawValue).joined(separator: ", ")
        let use: Use
        if let useText = query["use"] {
            guard let parsed = Use(rawValue: String(useText)) else { throw APIError.badParameter("use '\(useText)' is not one of \(uses)") }
            use = parsed
        } else {
            guard let defaultUse else { throw APIError.badParameter("use is required: one of \(uses)") }
            use = defaultUse
        }
        guard let territoryText = query["territory"] else { throw APIError.badParameter("territory is required: an ISO 3166-1 alpha-2 code such as SE") }
        let territory = territoryText.uppercased()
        guard Territories.isAssigned(territory) else {
            throw APIError.badParameter("territory '\(territoryText)' is not an ISO 3166-1 alpha-2 code")
        }
        let at = try query["at"].map { text in
            guard let date = parseTimestamp(String(text)) else {
                throw APIError.badParameter("at '\(text)' is not an ISO 8601 time such as 2026-11-26T12:00:00Z")
            }
            return date
        } ?? Date()
        return (use, territory, at)
    }

    private func verifications(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try integer(query, "limit", default: 100, in: 1...1000)
        let after = try integer(query, "after", default: 0, in: 0...Int(Int64.max))
        let decision = try query["decision"].map { text in
            guard let action = Action(rawValue: String(text)) else {
                throw APIError.badParameter("decision '\(text)' is not one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return action.rawValue
        }
        let records = try await database { try RightsStore($0).verifications(after: Int64(after), limit: limit, decision: decision) }
        let items = try records.map(VerificationInfo.init)
        return try json(VerificationPage(verifications: items, next_after: records.count == limit ? records.last?.id : nil))
    }

    /// The shared path of match and verify: checks the request, collects and decodes the body on
    /// the thread pool, then runs `work` with a pooled connection. Answers JSON with `Server-Timing`.
    private func analyse<T: Encodable & Sendable>(
        _ request: Request, retry: Bool = true,
        _ work: @escaping @Sendable (DecodedAudio, [UInt8], PostgresConnection, inout IdentificationTimings) throws -> T
    ) async throws -> Response {
        let (answer, timings) = try await analysed(request, retry: retry, work)
        var response = try json(answer)
        response.headers[Self.serverTiming] = Self.serverTiming(timings)
        return response
    }

    /// `analyse` without the answer's encoding.
    private func analysed<T: Sendable>(
        _ request: Request, retry: Bool = true,
        _ work: @escaping @Sendable (DecodedAudio, [UInt8], PostgresConnection, inout IdentificationTimings) throws -> T
    ) async throws -> (T, IdentificationTimings) {
        let raw = try rawFormat(request.uri.queryParameters)
        try checkContentType(request, raw: raw)
        let body = try await collect(request.body, declaredLength: request.headers[.contentLength].flatMap { Int($0) })
        guard !body.isEmpty else { throw APIError.emptyBody }
        var decoder = identifier.analysis.decoder
        decoder.maxDuration = configuration.maxQuerySeconds
        let pool = self.pool
        return try await threads.runIfActive { [decoder] () throws -> (T, IdentificationTimings) in
            var timings = IdentificationTimings()
            let clock = ContinuousClock(), start = clock.now
            let audio = try decoder.decode(bytes: body, source: "request body", raw: raw)
            timings.decode = clock.now - start
            let answer = try pool.withConnection(retryOnStaleConnection: retry) { try work(audio, body, $0, &timings) }
            return (answer, timings)
        }
    }

    static func serverTiming(_ timings: IdentificationTimings) -> String {
        func ms(_ d: Duration) -> String { String(format: "%.2f", Double(d.components.attoseconds) * 1e-15 + Double(d.components.seconds) * 1000) }
        return "decode;dur=\(ms(timings.decode)), fingerprint;dur=\(ms(timings.fingerprint)), lookup;dur=\(ms(timings.lookup))"
    }

    private func tracks(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try integer(query, "limit", default: 100, in: 1...1000)
        let after = try integer(query, "after", default: 0, in: 0...Int(Int32.max))
        let page = try await database { try Catalog($0).tracks(after: Int32(after), limit: limit) }
        return try json(TrackPage(tracks: page.map(TrackInfo.init), next_after: page.count == limit ? page.last?.id : nil))
    }

    private func track(_ context: DaemonContext) async throws -> Response {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int32(text), id > 0 else { throw APIError.badParameter("track id '\(text)' is not a positive integer") }
        guard let track = try await database({ try Catalog($0).tracks(ids: [id])[id] }) else {
            throw APIError(.notFound, code: "track_not_found", "no track with id \(id)")
        }
        return try json(TrackInfo(track))
    }

    private func prometheus() async -> Response {
        // A scrape while the database is away still answers, without the catalog gauges.
        let size = try? await catalogSize.value { try await database { try Catalog($0).size() } }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: metrics.render(catalog: size))))
    }

    // MARK: request parsing

    /// The body, refusing more than the configured limit (before reading it, when declared).
    func collect(_ body: RequestBody, declaredLength: Int?) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let declaredLength, declaredLength > limit { throw APIError.bodyTooLarge(limit: limit) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(declaredLength ?? 1 << 20, limit))
        for try await chunk in body {
            guard bytes.count + chunk.readableBytes <= limit else { throw APIError.bodyTooLarge(limit: limit) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    func integer(_ query: FlatDictionary<Substring, Substring>, _ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = query[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badParameter("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// `?format=s16le&rate=R&channels=C` for headerless PCM; nil for a file in a container.
    func rawFormat(_ query: FlatDictionary<Substring, Substring>) throws -> RawPCMFormat? {
        guard let format = query["format"] else { return nil }
        guard format == "s16le" else {
            throw APIError.unsupportedMediaType("format '\(format)' is not supported: use format=s16le for raw PCM, or send a WAV, FLAC, Ogg, Opus or MP3 file without format")
        }
        guard query["rate"] != nil, query["channels"] != nil else {
            throw APIError.badParameter("format=s16le needs rate (Hz) and channels, e.g. ?format=s16le&rate=44100&channels=2")
        }
        return RawPCMFormat(sampleRate: try integer(query, "rate", default: 0, in: 1000...768_000),
                            channels: try integer(query, "channels", default: 0, in: 1...AudioDecoder.maxChannels))
    }

    /// Audio comes as the raw body. curl's `--data-binary` labels it as a form, so that passes
    /// too; JSON, text and multipart forms are a client mistake worth naming.
    func checkContentType(_ request: Request, raw: RawPCMFormat?) throws {
        guard let value = request.headers[.contentType] else { return }
        let type = value.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased()
        let accepted = type.hasPrefix("audio/") || ["application/octet-stream", "application/ogg", "video/ogg",
                                                    "application/x-www-form-urlencoded", ""].contains(type)
        guard accepted else {
            throw APIError.unsupportedMediaType("Content-Type \(type) is not audio: send the audio file itself as the body (application/octet-stream or audio/*), not \(type.hasPrefix("multipart/") ? "a multipart form" : "a document")")
        }
    }

    func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try APIJSON.encode(value))))
    }
}

/// The API's JSON: sorted keys, unescaped slashes, ISO 8601 dates.
public enum APIJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }
}

/// The catalog's size changes only with ingest; counting it on every health check or scrape
/// would read the whole tracks table, so the count is kept for a few seconds.
typealias CatalogSizeCache = RecentValue<CatalogSize>

/// A value kept for `maxAge` after it was fetched.
actor RecentValue<Value: Sendable> {
    private var cached: (value: Value, at: ContinuousClock.Instant)?
    private let maxAge: Duration

    init(maxAge: Duration = .seconds(2)) { self.maxAge = maxAge }

    func value(_ fetch: @Sendable () async throws -> Value) async throws -> Value {
        if let cached, ContinuousClock.now - cached.at < maxAge { return cached.value }
        let value = try await fetch()
        cached = (value, ContinuousClock.now)
        return value
    }
}

public enum TracemarkVersion {
    public static let string = "0.2.0"
}
