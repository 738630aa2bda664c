import Daemon
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `tracemark serve` as a process: signals, the socket file, and `match` as its client.
@Suite struct ServeTests {
    let directory: String
    let socket: String
    let url: String
    static let seeds: [UInt64] = [71, 72]

    init() throws {
        directory = "/tmp/tms-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/tracemark.sock"
        url = try TestDatabase.create()
    }

    /// Starts the daemon and waits until it answers on the socket.
    func serve() async throws -> Process {
        let (process, _, _) = try CLI.start(["serve", "--database-url", url, "--data-dir", directory, "--socket", socket, "--log-level", "error"])
        let client = DaemonClient(socketPath: socket)
        for _ in 0..<300 where process.isRunning {
            if client.isAnswering { return process }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw TestSetupError(message: "tracemark serve did not start answering on \(socket)")
    }

    func waitForExit(_ process: Process, seconds: Double = 20) async throws -> Int32? {
        for _ in 0..<Int(seconds * 10) where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    @Test func sigtermDuringARequestLetsItFinish() async throws {
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: 20, databaseURL: url)
        let daemon = try await serve()
        let clip = try TestCatalog.excerpt(seed: Self.seeds[1], masterSeconds: 20, start: 6, seconds: 8)
        let half = clip.count / 2
        // The body's second half goes out after the signal, so the request is in flight when it
        // lands. The pause before the signal lets the daemon read the head: a request it has not
        // begun to read is not in flight, and shutdown may close its connection.
        let pid = daemon.processIdentifier
        async let reply = DaemonClient(socketPath: socket).send(.POST, "/v1/match", bodyParts: [Array(clip[..<half]), Array(clip[half...])]) {
            try await Task.sleep(for: .milliseconds(500))
            kill(pid, SIGTERM)
            try await Task.sleep(for: .milliseconds(1000))
        }
        let answer = try await reply
        #expect(answer.status == 200, "\(answer.text)")
        #expect(try JSONDecoder().decode(MatchAnswer.self, from: Data(answer.body)).matches.first?.track_id == ids[1])
        #expect(try await waitForExit(daemon) == 0)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket is removed on shutdown")
    }

    @Test func aStaleSocketIsReplacedAndTheNewOneIsOwnerAndGroupOnly() async throws {
        // A socket file nobody listens on, as a crashed daemon leaves behind.
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socket.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(bound == 0 && FileManager.default.fileExists(atPath: socket))

        let daemon = try await serve()
        defer { daemon.terminate() }
        let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o660)
        #expect(try await DaemonClient(socketPath: socket).send(.GET, "/v1/health").status == 200)

        // A live daemon is not replaced: a second one refuses to start and says why.
        let second = try CLI.run(["serve", "--database-url", url, "--data-dir", directory, "--socket", socket])
        #expect(second.status != 0)
        #expect(second.stderr.contains("another daemon is already answering"), "\(second.stderr)")
        #expect(try await DaemonClient(socketPath: socket).send(.GET, "/v1/health").status == 200)
    }

    @Test func matchGoesThroughTheDaemonWhenOneAnswersAndDirectOtherwise() async throws {
        let ids = try TestCatalog.store(seeds: Self.seeds, seconds: 20, databaseURL: url)
        let clip = directory + "/clip.wav"
        try Data(try TestCatalog.excerpt(seed: Self.seeds[0], masterSeconds: 20, start: 3, seconds: 6)).write(to: URL(fileURLWithPath: clip))
        let environment = ["TRACEMARK_DATABASE_URL": url]

        let daemon = try await serve()
        let viaDaemon = try CLI.run(["match", "--json", "--socket", socket, clip], environment: environment)
        #expect(viaDaemon.status == 0, "\(viaDaemon.stderr)")
        let line = try JSONSerialization.jsonObject(with: Data(viaDaemon.stdout.utf8)) as? [String: Any]
        let match = try #require(line?["match"] as? [String: Any], "\(viaDaemon.stdout)")
        #expect(line?["file"] as? String == clip)
        #expect(match["track_id"] as? Int == Int(ids[0]) && match["artist"] as? String == "Generated")
        #expect(abs((match["offset_s"] as? Double ?? 0) - 3) < 0.05)
        let metrics = try await DaemonClient(socketPath: socket).send(.GET, "/metrics").text
        #expect(metrics.contains(#"tracemark_http_requests_total{route="/v1/match",method="POST",status="200"} 1"#))

        kill(daemon.processIdentifier, SIGTERM)
        #expect(try await waitForExit(daemon) == 0)
        let direct = try CLI.run(["match", "--json", "--socket", socket, clip], environment: environment)
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.stdout == viaDaemon.stdout)
    }
}
