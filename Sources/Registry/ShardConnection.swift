import CLibPQ
import Foundation

/// A shard's connection URL as libpq reads it (URI or `key=value` form): the options that become
/// the postgres_fdw server's, the ones that belong to its user mapping, and a form to show.
struct ShardConnection: Sendable {
    /// Non-empty options in libpq's order.
    let options: [(key: String, value: String)]
    /// The URL as given, without its password.
    let displayURL: String

    /// Options postgres_fdw takes from the user mapping, not the server.
    static let userMappingKeys: Set<String> = ["user", "password"]
    /// libpq options postgres_fdw refuses on a server (it sets them itself).
    static let refusedKeys: Set<String> = ["client_encoding", "fallback_application_name", "replication", "sslpassword"]

    init(url: String) throws {
        var failure: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(url, &failure) else {
            let message = failure.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let failure { PQfreemem(failure) }
            throw RegistryError.shards("\(Self.withoutPassword(url)) is not a PostgreSQL connection URL (\(message)); nothing was changed")
        }
        defer { PQconninfoFree(parsed) }
        var options: [(key: String, value: String)] = []
        var i = 0
        while let keyword = parsed[i].keyword {
            if let value = parsed[i].val, value.pointee != 0 {
                options.append((String(cString: keyword), String(cString: value)))
            }
            i += 1
        }
        if let refused = options.first(where: { Self.refusedKeys.contains($0.key) }) {
            throw RegistryError.shards("the shard URL may not set \(refused.key) (postgres_fdw sets it itself); nothing was changed")
        }
        self.options = options
        self.displayURL = Self.withoutPassword(url)
    }

    func value(_ key: String) -> String? { options.first { $0.key == key }?.value }

    var serverOptions: [(key: String, value: String)] { options.filter { !Self.userMappingKeys.contains($0.key) } }
    var userMappingOptions: [(key: String, value: String)] { options.filter { Self.userMappingKeys.contains($0.key) } }

    /// What names the server and database, for refusing the same shard twice under two names.
    var identity: String {
        ["host", "hostaddr", "port", "dbname"].map { "\($0)=\(value($0) ?? "")" }.joined(separator: " ")
    }

    /// A libpq `key=value` string of these options, with `connectTimeout` seconds unless the URL sets one.
    func connectionString(connectTimeout: Int) -> String {
        var pairs = options
        if value("connect_timeout") == nil { pairs.append(("connect_timeout", String(connectTimeout))) }
        return pairs.map { "\($0.key)='\(Self.quoted($0.value))'" }.joined(separator: " ")
    }

    private static func quoted(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }

    /// The URL with any password taken out (`user:secret@` in a URI, `password=` in either form):
    /// the URL is shown by `db shards list` and kept in the shards table.
    static func withoutPassword(_ url: String) -> String {
        var text = url
        let patterns = [
            (#"(://[^/@:?]*):[^@/?]*@"#, "$1@"),
            (#"([?&])password=[^&]*&?"#, "$1"),
            (#"(^|\s)password\s*=\s*('(\\.|[^'])*'|\S+)"#, ""),
        ]
        for (pattern, template) in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        if text.hasSuffix("?") || text.hasSuffix("&") { text.removeLast() }
        return text.trimmingCharacters(in: .whitespaces)
    }
}
