import Hummingbird
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The request context: Hummingbird's routing state plus the connection, so a handler can ask
/// who is on the other end of the socket.
public struct DaemonContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel
    /// Filled by the handler, written in the request's log line.
    public let summary = RequestSummary()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The peer's uid, gid and pid from SO_PEERCRED; nil if the socket cannot say.
    public func peer() async -> Peer? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        #if os(Linux)
        guard let credentials: PeerCredentialsLayout = try? await provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)).get() else { return nil }
        return Peer(uid: Int32(bitPattern: credentials.uid), gid: Int32(bitPattern: credentials.gid), pid: credentials.pid)
        #else
        return nil
        #endif
    }
}

/// Linux's `struct ucred` (pid_t, uid_t, gid_t), which Swift's Glibc module does not import.
private struct PeerCredentialsLayout: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
