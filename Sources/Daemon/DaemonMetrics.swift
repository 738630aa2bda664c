import Foundation
import Hummingbird
import Logging
import Prometheus
import Registry

/// The daemon's Prometheus metrics. Each daemon owns its registry (no process-global state), so
/// several daemons can run in one process, as the tests do.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let pool: ConnectionPool
    private let catalogTracks, catalogHours, catalogHashes, poolInUse, poolIdle, poolCapacity, uptime: Gauge
    private let started = ContinuousClock.now

    /// Latency buckets from 1 ms to 10 s: matches take tens of milliseconds, uploads longer.
    static let latencyBuckets: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        .map { Duration.microseconds(Int(($0 * 1_000_000).rounded())) }

    init(pool: ConnectionPool) {
        self.pool = pool
        catalogTracks = registry.makeGauge(name: "tracemark_catalog_tracks", help: "Tracks in the catalog.")
        catalogHours = registry.makeGauge(name: "tracemark_catalog_hours", help: "Hours of audio in the catalog.")
        catalogHashes = registry.makeGauge(name: "tracemark_catalog_hashes", help: "Landmark hashes stored.")
        poolInUse = registry.makeGauge(name: "tracemark_db_pool_connections", labels: [("state", "in_use")],
                                       help: "Database connections by state.")
        poolIdle = registry.makeGauge(name: "tracemark_db_pool_connections", labels: [("state", "idle")],
                                      help: "Database connections by state.")
        poolCapacity = registry.makeGauge(name: "tracemark_db_pool_capacity", help: "Most database connections open at once.")
        uptime = registry.makeGauge(name: "tracemark_uptime_seconds", help: "Seconds since the daemon started.")
    }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(name: "tracemark_http_requests_total",
                             labels: [("route", route), ("method", method), ("status", String(status))],
                             help: "HTTP requests answered, by route, method and status.").increment()
        registry.makeDurationHistogram(name: "tracemark_http_request_duration_seconds",
                                       labels: [("route", route), ("method", method)],
                                       buckets: Self.latencyBuckets,
                                       help: "Time from request head to response, by route and method.").record(duration)
    }

    /// The exposition text, with gauges brought up to date first.
    func render(catalog: CatalogSize?) -> [UInt8] {
        if let catalog {
            catalogTracks.set(Double(catalog.tracks))
            catalogHours.set(catalog.hours)
            catalogHashes.set(Double(catalog.hashes))
        }
        let usage = pool.usage
        poolInUse.set(Double(usage.inUse))
        poolIdle.set(Double(usage.idle))
        poolCapacity.set(Double(usage.capacity))
        let elapsed = ContinuousClock.now - started
        uptime.set(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        return registry.emitToBuffer()
    }
}

/// Counts every answered request, errors included, under the route that matched ("unmatched"
/// for paths no route knows), turns every error into the API's JSON error body, and writes one
/// log line per request: route, method, status, latency, the peer's uid and gid, and what the
/// handler put in the context's summary (the match, the decision, the serial).
struct ErrorAndMetricsMiddleware: RouterMiddleware {
    typealias Context = DaemonContext
    let metrics: DaemonMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        var failure: APIError?
        do {
            response = try await next(request, context)
        } catch {
            var apiError = APIError.from(error)
            // The router answers 404 for a known path asked with another method: say which it takes.
            if error is HTTPError, apiError.status == .notFound {
                let allowed = Routes.allowedMethods(path: request.uri.path)
                if !allowed.isEmpty {
                    apiError = APIError(.methodNotAllowed, code: "method_not_allowed",
                                        "\(request.method.rawValue) is not allowed on \(request.uri.path); it takes \(allowed.map(\.rawValue).joined(separator: ", "))")
                    apiError.allow = allowed
                }
            }
            if apiError.status.code >= 500, apiError.code != "database_unavailable" {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            failure = apiError
            response = try apiError.response(from: request, context: context)
        }
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(route: route, method: request.method.rawValue, status: response.status.code, duration: elapsed)
        let peer = await context.peer()
        var line: Logger.Metadata = [
            "route": "\(route)", "method": "\(request.method.rawValue)", "status": "\(response.status.code)",
            "latency_ms": "\(String(format: "%.1f", Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15))",
            "peer_uid": "\(peer.map { String($0.uid) } ?? "-")", "peer_gid": "\(peer.map { String($0.gid) } ?? "-")",
        ]
        if let failure { line["error"] = "\(failure.code)" }
        line.merge(context.summary.metadata) { $1 }
        context.logger.info("request", metadata: line)
        return response
    }
}
