import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's Unix socket on disk: preparing its path before binding, and its permissions.
enum SocketFile {
    /// `sun_path` holds 108 bytes including the terminating NUL.
    static let maxPathBytes = 107

    /// Makes `path` ready to bind: creates the parent directory, replaces a stale socket left
    /// by a crashed daemon, and refuses when a live daemon answers there or the path is
    /// something other than a socket.
    static func prepare(_ path: String) throws {
        guard path.utf8.count <= maxPathBytes else {
            throw DaemonError.socket("the socket path \(path) is longer than \(maxPathBytes) bytes; choose a shorter --socket or --data-dir")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o750])
            } catch {
                throw DaemonError.socket("cannot create the socket directory \(directory): \(error.localizedDescription)")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else { return } // nothing there
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw DaemonError.socket("\(path) exists and is not a socket; remove it or choose another --socket")
        }
        if answers(path) {
            throw DaemonError.socket("another daemon is already answering on \(path); stop it first or choose another --socket")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw DaemonError.socket("cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Owner and group may connect; nobody else.
    static func restrict(_ path: String) throws {
        guard chmod(path, 0o660) == 0 else {
            throw DaemonError.socket("cannot set the mode of \(path) to 0660: \(String(cString: strerror(errno)))")
        }
    }

    /// True when something accepts connections on the socket at `path`.
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathBytes else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 }
        }
    }
}
