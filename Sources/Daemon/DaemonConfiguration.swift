import Configuration
import Foundation
import Logging
import Rights
import SystemPackage
import Yams

/// Every setting of the daemon, read once at start.
///
/// Precedence, highest first: command-line flags, `TRACEMARK_*` environment variables, the YAML
/// file (`config/tracemark.yaml` documents every key), then the defaults below. A key is named
/// the same everywhere: `database.poolSize` in YAML is `TRACEMARK_DATABASE_POOL_SIZE`.
public struct DaemonConfiguration: Sendable, Equatable {
    /// Data directory: embedded database, socket, keys (`home`, TRACEMARK_HOME).
    public var dataDirectory = "./var"
    /// PostgreSQL URL; empty means the embedded cluster (`database.url`).
    public var databaseURL: String?
    /// Connections, and so database queries, at once (`database.poolSize`).
    public var poolSize = 8
    /// Unix socket path; default `<home>/run/tracemark.sock` (`socket`).
    public var socketPath: String?
    /// Largest request body accepted, in bytes (`server.maxBodyBytes`).
    public var maxBodyBytes = 64 << 20
    /// Longest audio a query may hold, in seconds (`match.maxQuerySeconds`).
    public var maxQuerySeconds = 600.0
    /// Most results `?top=` may ask for (`match.maxTop`).
    public var maxTop = 50
    /// Longest audio `POST /v1/watermarks` marks, in seconds (`watermark.maxSeconds`).
    public var maxWatermarkSeconds = 900.0
    /// A directory of style presets searched before ./config/styles and /etc/tracemark/styles (`remix.stylesDir`).
    public var stylesDirectory: String?
    /// Most proposals the generator makes for one replaced stretch before its fallback applies (`remix.maxRounds`).
    public var maxReplacementRounds = 4
    /// trace, debug, info, notice, warning, error, critical (`log.level`).
    public var logLevel = Logger.Level.info
    /// logfmt, json or text (`log.format`).
    public var logFormat = LogFormat.logfmt
    /// The action for each use of a recording no policy covers (`rights.default.<use>`).
    public var defaultPolicy = DefaultPolicy.standard
    /// Routes restricted to groups (`access.routes`, in the file only).
    public var access = RouteAccess()

    public init() {}

    public var resolvedSocketPath: String {
        socketPath ?? Self.defaultSocketPath(dataDirectory: dataDirectory)
    }

    public static func defaultSocketPath(dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("run/tracemark.sock").standardizedFileURL.path
    }

    /// Every key the file may hold; anything else is a typo worth stopping for.
    static let knownKeys: Set<String> = Set([
        "home", "socket", "database.url", "database.poolSize", "server.maxBodyBytes",
        "match.maxQuerySeconds", "match.maxTop", "watermark.maxSeconds", "remix.stylesDir", "remix.maxRounds", "log.level", "log.format",
    ]).union(Use.allCases.map { "rights.default.\($0.rawValue)" })

    /// Where the YAML file is looked for when none is named: a checkout's `config/`, then `/etc`.
    public static let defaultFiles = ["config/tracemark.yaml", "/etc/tracemark/tracemark.yaml"]

    /// Reads the configuration. `file` nil means `TRACEMARK_CONFIG`, else the first of
    /// `defaultFiles` that exists, else none. `flags` hold values given on the command line.
    public static func load(file: String?, flags: [String: String] = [:],
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> DaemonConfiguration {
        let named = file ?? environment["TRACEMARK_CONFIG"]
        let path = named ?? defaultFiles.first { FileManager.default.fileExists(atPath: $0) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map {
                (AbsoluteConfigKey($0.key.split(separator: ".").map(String.init)), ConfigValue(.string($0.value), isSecret: false))
            })),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["tracemark"]),
        ]
        if let path {
            guard FileManager.default.fileExists(atPath: path) else {
                throw DaemonError.configuration("configuration file \(path) does not exist")
            }
            try checkKeys(ofFile: path)
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            } catch {
                throw DaemonError.configuration("\(path): \(error)")
            }
        }
        let reader = ConfigReader(providers: providers)
        var c = DaemonConfiguration()
        c.dataDirectory = try string(reader, "home") ?? c.dataDirectory
        c.databaseURL = try string(reader, "database.url").flatMap { $0.isEmpty ? nil : $0 }
        c.poolSize = try int(reader, "database.poolSize", in: 1...200) ?? c.poolSize
        c.socketPath = try string(reader, "socket").flatMap { $0.isEmpty ? nil : $0 }
        c.maxBodyBytes = try int(reader, "server.maxBodyBytes", in: 1024...(4 << 30)) ?? c.maxBodyBytes
        c.maxQuerySeconds = try double(reader, "match.maxQuerySeconds", in: 1...86_400) ?? c.maxQuerySeconds
        c.maxTop = try int(reader, "match.maxTop", in: 1...1000) ?? c.maxTop
        c.maxWatermarkSeconds = try double(reader, "watermark.maxSeconds", in: 8...86_400) ?? c.maxWatermarkSeconds
        c.stylesDirectory = try string(reader, "remix.stylesDir").flatMap { $0.isEmpty ? nil : $0 }
        c.maxReplacementRounds = try int(reader, "remix.maxRounds", in: 1...32) ?? c.maxReplacementRounds
        if let level = try string(reader, "log.level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw DaemonError.configuration("log.level: '\(level)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.logLevel = parsed
        }
        if let format = try string(reader, "log.format") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw DaemonError.configuration("log.format: '\(format)' is not one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.logFormat = parsed
        }
        for use in Use.allCases {
            let key = "rights.default.\(use.rawValue)"
            guard let text = try string(reader, key) else { continue }
            guard let action = Action(rawValue: text.lowercased()) else {
                throw DaemonError.configuration("\(key): '\(text)' is not one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.defaultPolicy.actions[use] = action
        }
        if let path { c.access = try routeAccess(fromFile: path) }
        return c
    }

    /// `access.routes` of the file: route -> list of group names or gids.
    static func routeAccess(fromFile path: String) throws -> RouteAccess {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard let routes = (try? Yams.compose(yaml: text))??.mapping?["access"]?.mapping?["routes"] else { return RouteAccess() }
        guard let mapping = routes.mapping else {
            throw DaemonError.configuration("access.routes: expected a mapping of route to a list of groups, such as /v1/verifications: [auditors]")
        }
        var parsed: [String: [String]] = [:]
        for (key, value) in mapping {
            let route = key.string ?? ""
            guard let list = value.sequence else {
                throw DaemonError.configuration("access.routes.\(route): expected a list of groups, such as [auditors]")
            }
            parsed[route] = list.compactMap(\.string)
        }
        return try RouteAccess.parse(parsed, knownRoutes: Routes.paths)
    }

    private static func string(_ reader: ConfigReader, _ key: String) throws -> String? {
        let configKey = ConfigKey(key.split(separator: ".").map(String.init))
        if let value = reader.string(forKey: configKey) { return value }
        if reader.int(forKey: configKey) != nil || reader.double(forKey: configKey) != nil || reader.bool(forKey: configKey) != nil {
            throw DaemonError.configuration("\(key): expected text")
        }
        return nil
    }

    private static func int(_ reader: ConfigReader, _ key: String, in range: ClosedRange<Int>) throws -> Int? {
        let configKey = ConfigKey(key.split(separator: ".").map(String.init))
        guard let value = reader.int(forKey: configKey) else {
            if let text = reader.string(forKey: configKey) {
                throw DaemonError.configuration("\(key): '\(text)' is not a whole number")
            }
            return nil
        }
        guard range.contains(value) else {
            throw DaemonError.configuration("\(key): \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    private static func double(_ reader: ConfigReader, _ key: String, in range: ClosedRange<Double>) throws -> Double? {
        let configKey = ConfigKey(key.split(separator: ".").map(String.init))
        guard let value = reader.double(forKey: configKey) ?? reader.int(forKey: configKey).map(Double.init) else {
            if let text = reader.string(forKey: configKey) {
                throw DaemonError.configuration("\(key): '\(text)' is not a number")
            }
            return nil
        }
        guard range.contains(value) else {
            throw DaemonError.configuration("\(key): \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Rejects unknown keys, so a misspelt setting is not silently ignored.
    static func checkKeys(ofFile path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DaemonError.configuration("cannot read \(path): \(error.localizedDescription)")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw DaemonError.configuration("\(path) is not valid YAML: \(error)")
        }
        guard let node else { return } // empty file
        guard case .mapping = node else { throw DaemonError.configuration("\(path): the top level must be a mapping of keys") }
        var unknown: [String] = []
        func walk(_ node: Node, prefix: String) {
            guard let mapping = node.mapping else { return }
            for (key, value) in mapping {
                let name = prefix.isEmpty ? (key.string ?? "?") : prefix + "." + (key.string ?? "?")
                if name == "access.routes" { continue } // route -> groups, checked by routeAccess(fromFile:)
                if value.mapping != nil { walk(value, prefix: name) } else if !knownKeys.contains(name) { unknown.append(name) }
            }
        }
        walk(node, prefix: "")
        if !unknown.isEmpty {
            throw DaemonError.configuration("\(path): unknown key\(unknown.count > 1 ? "s" : "") \(unknown.sorted().joined(separator: ", ")); known keys: \(knownKeys.sorted().joined(separator: ", "))")
        }
    }
}
