import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 client for the daemon's Unix socket (NIO's HTTP codec): what `tracemark match`
/// uses when a daemon answers, and what the tests use to drive one.
public struct DaemonClient: Sendable {
    public let socketPath: String

    public struct Reply: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error, CustomStringConvertible {
        /// Nothing accepts connections at the path.
        case notRunning(String)
        case protocolError(String)

        public var description: String {
            switch self {
            case let .notRunning(path): return "no daemon answers on \(path)"
            case let .protocolError(message): return "bad answer from the daemon: \(message)"
            }
        }
    }

    public init(socketPath: String) { self.socketPath = socketPath }

    /// True when a daemon accepts connections on the socket.
    public var isAnswering: Bool { SocketFile.answers(socketPath) }

    /// Sends one request and reads the whole reply. `bodyParts` are written one after another,
    /// with `betweenParts` awaited between them, which lets tests act while a request is in flight.
    public func send(_ method: HTTPMethod, _ target: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
                     bodyParts: [[UInt8]]? = nil, betweenParts: (@Sendable () async throws -> Void)? = nil) async throws -> Reply {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw Failure.notRunning(socketPath)
        }
        let parts = bodyParts ?? body.map { [$0] } ?? []
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: "localhost")
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if method == .POST || method == .PUT || !parts.isEmpty {
            head.headers.add(name: "Content-Length", value: String(parts.reduce(0) { $0 + $1.count }))
        }
        return try await channel.executeThenClose { inbound, outbound in
            // The daemon may answer (400, 413, 415) and close before it has read the whole body;
            // its answer is still there to read, so a failed write is reported only without one.
            var writeFailure: (any Error)?
            do {
                try await outbound.write(.head(head))
                for (i, part) in parts.enumerated() {
                    if i > 0, let betweenParts { try await betweenParts() }
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: part))))
                }
                try await outbound.write(.end(nil))
            } catch {
                writeFailure = error
            }
            var status: Int?
            var replyHeaders: [(String, String)] = []
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case let .head(responseHead):
                    status = Int(responseHead.status.code)
                    replyHeaders = responseHead.headers.map { ($0.name, $0.value) }
                case var .body(buffer):
                    body.writeBuffer(&buffer)
                case .end:
                    guard let status else { throw Failure.protocolError("a reply without a status line") }
                    return Reply(status: status, headers: replyHeaders, body: Array(body.readableBytesView))
                }
            }
            throw writeFailure ?? Failure.protocolError("the connection closed before the reply was complete")
        }
    }
}
