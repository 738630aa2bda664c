import Audio
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Registry
import Remix

/// Why the daemon could not start or keep running.
public enum DaemonError: Error, CustomStringConvertible, Sendable {
    case configuration(String)
    /// Another daemon answers on the socket, or the path is not a socket we may replace.
    case socket(String)

    public var description: String {
        switch self {
        case let .configuration(message): return "configuration: \(message)"
        case let .socket(message): return message
        }
    }
}

/// An error answered as `{"error": {"code", "message"}}` with its HTTP status.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Seconds the client should wait before retrying, for 503s.
    public var retryAfter: Int?
    /// For a refused remix (451): what was found and why.
    public var report: RemixReport?
    /// For 405: the methods the path does answer.
    public var allow: [HTTPRequest.Method] = []

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public struct Body: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public let code: String
            public let message: String
            public var report: RemixReport?
        }
        public let error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if !allow.isEmpty { headers[.allow] = allow.map(\.rawValue).joined(separator: ", ") }
        let body = try APIJSON.encode(Body(error: .init(code: code, message: message, report: report)))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // The errors the API documents, in one place.
    static func badParameter(_ message: String) -> APIError { APIError(.badRequest, code: "bad_parameter", message) }
    static let emptyBody = APIError(.badRequest, code: "empty_body", "the request body is empty: send the audio file as the body")
    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", "the request body is over the limit of \(limit) bytes (server.maxBodyBytes)")
    }
    static func unsupportedMediaType(_ message: String) -> APIError { APIError(.unsupportedMediaType, code: "unsupported_media_type", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }

    /// Maps what the layers below throw to what the client is told.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as AudioError:
            if case .tooLong = error { return APIError(.badRequest, code: "audio_too_long", error.description) }
            return APIError(.badRequest, code: "unreadable_audio", error.description)
        case let error as EditError:
            if case .unknownStyle = error { return APIError(.badRequest, code: "unknown_style", error.description) }
            return APIError(.badRequest, code: "bad_edit", error.description)
        case let error as RemixOptions.Problem:
            return APIError.badParameter(error.description)
        case let error as IssuanceError:
            if case .unsuitableAudio = error { return APIError(.badRequest, code: "unsuitable_audio", error.description) }
            return APIError(.badRequest, code: "bad_parameter", error.description)
        case let error as KeyStoreError:
            // The keys live on the daemon's host: the operator has to create or repair them.
            return APIError(.serviceUnavailable, code: "watermark_keys_unavailable", "watermark keys unavailable: \(error)")
        case let error as RegistryError where error.isDiskFull:
            return APIError(.serviceUnavailable, code: "database_unavailable",
                            "the database's disk is full (\(error.description)); nothing was written", retryAfter: 60)
        case let error as RegistryError where error.unavailableShard != nil:
            return APIError(.serviceUnavailable, code: "database_unavailable",
                            "the shard \(error.unavailableShard ?? "") is unavailable (\(Shards.firstLine(of: error))); retry shortly", retryAfter: 5)
        case let error as RegistryError where error.isConnectionLoss:
            return APIError(.serviceUnavailable, code: "database_unavailable",
                            "the database is unavailable (\(error.description)); retry shortly", retryAfter: 5)
        case let error as HTTPError:
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "body_too_large"
            case .badRequest: code = "bad_request"
            default: code = error.status.code >= 500 ? "internal" : "bad_request"
            }
            return APIError(error.status, code: code, error.body ?? error.status.reasonPhrase)
        default:
            return APIError(.internalServerError, code: "internal", "internal error: \(error)")
        }
    }
}
