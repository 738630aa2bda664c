@testable import Daemon
import Foundation
import TestSupport
import Registry
import Testing

/// A configuration file with `text`, in a fresh temporary path.
func file(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tm-\(UUID().uuidString).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct ConfigurationTests {
    @Test func flagsBeatEnvironmentWhichBeatsTheFileWhichBeatsDefaults() async throws {
        let path = try file("""
            home: /srv/from-file
            socket: /run/from-file.sock
            database:
              poolSize: 3
            server:
              maxBodyBytes: 2048
            log:
              level: debug
            """)
        let c = try await DaemonConfiguration.load(
            file: path, flags: ["socket": "/run/from-flag.sock"],
            environment: ["TRACEMARK_HOME": "/srv/from-env", "TRACEMARK_SOCKET": "/run/from-env.sock", "TRACEMARK_DATABASE_POOL_SIZE": "5"])
        #expect(c.resolvedSocketPath == "/run/from-flag.sock")
        #expect(c.dataDirectory == "/srv/from-env")
        #expect(c.poolSize == 5)
        #expect(c.maxBodyBytes == 2048)
        #expect(c.logLevel == .debug)
        #expect(c.maxTop == DaemonConfiguration().maxTop)
        #expect(c.databaseURL == nil)
    }

    @Test func theSocketDefaultsToTheDataDirectory() async throws {
        let c = try await DaemonConfiguration.load(file: try file("home: /srv/tm\n"), environment: [:])
        #expect(c.resolvedSocketPath == "/srv/tm/run/tracemark.sock")
    }

    @Test func theShippedFileHoldsTheDefaults() async throws {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/", !FileManager.default.fileExists(atPath: directory.appendingPathComponent("config/tracemark.yaml").path) {
            directory.deleteLastPathComponent()
        }
        let shipped = try await DaemonConfiguration.load(file: directory.appendingPathComponent("config/tracemark.yaml").path, environment: [:])
        #expect(shipped == DaemonConfiguration())
    }

    @Test(arguments: [
        ("sokcet: /tmp/x.sock\n", "unknown key sokcet"),
        ("database:\n  poolSize: lots\n", "database.poolSize: 'lots' is not a whole number"),
        ("database:\n  poolSize: 0\n", "database.poolSize: 0 is outside 1...200"),
        ("log:\n  level: loud\n", "log.level: 'loud' is not one of"),
        ("home: [unclosed\n", "is not valid YAML"),
    ])
    func badFilesAreRefusedWithTheKeyNamed(text: String, message: String) async throws {
        let path = try file(text)
        await #expect { try await DaemonConfiguration.load(file: path, environment: [:]) } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func aNamedFileThatDoesNotExistIsAnError() async throws {
        await #expect { try await DaemonConfiguration.load(file: "/nonexistent/tracemark.yaml", environment: [:]) } throws: { error in
            "\(error)".contains("does not exist")
        }
    }
}

/// `access.routes`: routes open only to some groups, enforced on the peer's credentials.
@Suite struct RouteAccessTests {
    @Test func routesAreReadWithGroupNamesAndNumbersAndMistakesStopTheDaemon() async throws {
        let rootGroup = try #require(getgrgid(0)).pointee.gr_name.map { String(cString: $0) } ?? "root"
        let ok = try await DaemonConfiguration.load(file: try file("""
            access:
              routes:
                /v1/verifications: [\(rootGroup), 4242]
            """), environment: [:])
        #expect(ok.access.groups == ["/v1/verifications": [0, 4242]])
        for bad in ["access:\n  routes:\n    /v1/nothing: [0]", "access:\n  routes:\n    /v1/health: [no-such-group-here]",
                    "access:\n  routes:\n    /v1/health: 7", "access:\n  rutes:\n    /v1/health: [0]"] {
            await #expect(throws: DaemonError.self, "\(bad)") { _ = try await DaemonConfiguration.load(file: try file(bad), environment: [:]) }
        }
    }

    @Test func aRestrictedRouteAnswers403ToOthersAndServesItsGroup() async throws {
        let url = try TestDatabase.create()
        let outsider = try await RunningDaemon.start(databaseURL: url) { $0.access = RouteAccess(groups: ["/v1/verifications": [4_000_000]]) }
        let refused = try await outsider.client.send(.GET, "/v1/verifications")
        #expect(refused.status == 403 && refused.text.contains("forbidden") && refused.text.contains("uid \(getuid())"), "\(refused.text)")
        #expect(OpenAPIDocument.shared.problems(path: "/v1/verifications", method: "GET", reply: refused).isEmpty)
        #expect(try await outsider.client.send(.GET, "/v1/health").status == 200)
        await outsider.stop()
        let member = try await RunningDaemon.start(databaseURL: url) { $0.access = RouteAccess(groups: ["/v1/verifications": [getgid()]]) }
        defer { Task { await member.stop() } }
        #expect(try await member.client.send(.GET, "/v1/verifications").status == 200)
    }
}

/// Database failures become answers a client can act on: retry later, not "internal error".
@Suite struct DatabaseFailureAnswerTests {
    @Test func fullDiskAndLostConnectionAreServiceUnavailable() {
        let full = APIError.from(RegistryError.statement(message: "could not extend file: No space left on device", sqlState: "53100"))
        #expect(full.status == .serviceUnavailable)
        #expect(full.code == "database_unavailable")
        #expect(full.message.contains("disk is full"))
        let lost = APIError.from(RegistryError.unavailable("connection refused"))
        #expect(lost.status == .serviceUnavailable && lost.retryAfter == 5)
        let constraint = APIError.from(RegistryError.statement(message: "duplicate key", sqlState: "23505"))
        #expect(constraint.status == .internalServerError)
    }
}
