import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with its output captured to a file.
///
/// Foundation's `Process` on Linux notices a child's exit through a descriptor the child
/// inherits; a daemon started by the child (pg_ctl's server) inherits it too, and the exit is
/// then never seen. posix_spawn plus waitpid has no such tie.
enum ChildProcess {
    static func run(_ executable: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("tracemark-child-\(getpid())-\(UUID().uuidString).log").path
        defer { unlink(log) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw RegistryError.cluster("cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, output)
    }
}
