import Foundation
import Hummingbird
#if canImport(Glibc)
import Glibc
#endif

/// Which groups may use which routes (`access.routes` in the configuration file): a route listed
/// answers only peers whose primary or supplementary groups include one of its groups; a route
/// not listed is open to every peer the socket's mode (0660) lets connect.
public struct RouteAccess: Sendable, Equatable {
    /// Route (as in docs/openapi.yaml) to the gids allowed.
    public var groups: [String: Set<UInt32>]
    /// The groups as the configuration named them, for error messages.
    var names: [String: String] = [:]

    public init(groups: [String: Set<UInt32>] = [:]) { self.groups = groups }

    /// Reads `access.routes` from a parsed file: a mapping of route to a list of group names or
    /// numbers. Names are resolved now (once, at start), so a typo stops the daemon instead of
    /// locking a route.
    static func parse(_ routes: [String: [String]], knownRoutes: [String]) throws -> RouteAccess {
        var access = RouteAccess()
        for (route, names) in routes {
            guard knownRoutes.contains(route) else {
                throw DaemonError.configuration("access.routes: '\(route)' is not a route; routes: \(knownRoutes.joined(separator: ", "))")
            }
            guard !names.isEmpty else { throw DaemonError.configuration("access.routes.\(route): give at least one group") }
            access.names[route] = names.joined(separator: ", ")
            access.groups[route] = Set(try names.map { name in
                if let gid = UInt32(name) { return gid }
                guard let entry = getgrnam(name) else {
                    throw DaemonError.configuration("access.routes.\(route): no group named '\(name)' on this host")
                }
                return entry.pointee.gr_gid
            })
        }
        return access
    }

    /// The peer's groups: its primary gid and every group its user is a member of. Uses the
    /// reentrant lookups: requests run on many threads at once.
    static func groups(of peer: Peer) -> Set<UInt32> {
        var result: Set<UInt32> = [UInt32(bitPattern: peer.gid)]
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwuid_r(uid_t(bitPattern: peer.uid), &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name else {
            return result
        }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid_t(bitPattern: peer.gid), &list, &count) == -1 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid_t(bitPattern: peer.gid), &list, &count)
        }
        for gid in list.prefix(Int(max(count, 0))) { result.insert(gid) }
        return result
    }
}

/// Refuses a request with 403 when its route is restricted to groups the peer is not in.
struct RouteAccessMiddleware: RouterMiddleware {
    typealias Context = DaemonContext
    let access: RouteAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = context.endpointPath, let allowed = access.groups[route] else { return try await next(request, context) }
        guard let peer = await context.peer() else {
            throw APIError(.forbidden, code: "forbidden", "\(route) is restricted to some groups, and the socket does not say who is asking")
        }
        guard RouteAccess.groups(of: peer).isDisjoint(with: allowed) else { return try await next(request, context) }
        throw APIError(.forbidden, code: "forbidden",
                       "\(route) is open to members of \(access.names[route] ?? allowed.sorted().map(String.init).joined(separator: ", ")); uid \(peer.uid) is not in any of them")
    }
}
