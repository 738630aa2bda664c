import Audio
import Daemon
import Foundation
import Logging
import Registry
import TestSupport
import Testing
import Watermark

/// A daemon served in this process on a socket in a temporary directory, against a test
/// database; stopped by cancelling its task.
final class RunningDaemon: Sendable {
    let client: DaemonClient
    let databaseURL: String
    let directory: String
    private let task: Task<Void, any Error>

    static func start(databaseURL: String, _ configure: (inout DaemonConfiguration) -> Void = { _ in }) async throws -> RunningDaemon {
        let directory = "/tmp/tmd-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory
        configuration.databaseURL = databaseURL
        configuration.socketPath = directory + "/d.sock"
        configure(&configuration)
        var logger = Logger(label: "test-daemon")
        logger.logLevel = .critical // cancelling the task at the end logs errors
        let (ready, readyContinuation) = AsyncStream.makeStream(of: String.self)
        let task = Task { [configuration, logger] in
            defer { readyContinuation.finish() }
            try await DaemonService.run(configuration: configuration, logger: logger, shutdownSignals: []) { path in
                readyContinuation.yield(path)
            }
        }
        var iterator = ready.makeAsyncIterator()
        guard let socket = await iterator.next() else {
            _ = try await task.value
            throw TestSetupError(message: "the daemon stopped before it was ready")
        }
        return RunningDaemon(client: DaemonClient(socketPath: socket), databaseURL: databaseURL, directory: directory, task: task)
    }

    private init(client: DaemonClient, databaseURL: String, directory: String, task: Task<Void, any Error>) {
        self.client = client
        self.databaseURL = databaseURL
        self.directory = directory
        self.task = task
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension RunningDaemon {
    /// Sends a request and checks the reply against docs/openapi.yaml (`route` in its path syntax).
    func call(_ method: String, _ target: String, route: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> DaemonClient.Reply {
        let reply = try await client.send(.init(rawValue: method), target, body: body, headers: headers)
        let problems = OpenAPIDocument.shared.problems(path: route, method: method, reply: reply)
        #expect(problems.isEmpty, "\(method) \(target): \(problems.joined(separator: "; "))", sourceLocation: sourceLocation)
        return reply
    }

    /// The API's JSON as the tests read it: ISO 8601 dates.
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    /// Watermark keys in the daemon's data directory; the auditor's private key made outside it.
    func makeKeys() throws -> (IssuingKeys, AuditorPrivateKey) {
        let outside = "/tmp/tmk-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let store = KeyStore(dataDirectory: directory)
        _ = try store.initialize(auditorOut: outside + "/auditor.pem", auditorPublic: nil)
        let auditor = try AuditorPrivateKey(pem: String(contentsOfFile: outside + "/auditor.pem", encoding: .utf8))
        return (try store.currentKeys(), auditor)
    }
}
