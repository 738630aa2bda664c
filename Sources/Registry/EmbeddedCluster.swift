import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL cluster Tracemark runs for itself when no database URL is configured.
///
/// Layout under the data directory: `postgres/` is the cluster (also the directory of its Unix
/// socket; no TCP), `postgres.lock` serialises start and stop between processes, and every
/// process using the cluster holds a shared lock on `postgres.users`. The last user to leave
/// (the one that can take that lock exclusively) stops the server, so two commands started at
/// once share one server and neither stops it under the other.
///
/// PostgreSQL refuses to run as root: when the effective uid is 0, `initdb`, `pg_ctl` and the
/// server run as the `postgres` system user, which then owns the cluster directory.
public final class EmbeddedCluster: @unchecked Sendable {
    public let dataDirectory: String
    public let clusterDirectory: String
    public static let databaseName = "tracemark"
    public static let superuser = "tracemark"

    private var usersLock: Int32 = -1
    private let runAsUser: String?

    public init(dataDirectory: String) {
        let absolute = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        self.dataDirectory = absolute
        self.clusterDirectory = absolute + "/postgres"
        self.runAsUser = geteuid() == 0 ? "postgres" : nil
    }

    deinit { if usersLock >= 0 { close(usersLock) } }

    /// libpq connection string for the running cluster.
    public var connectionString: String { connectionString(database: Self.databaseName) }

    public func connectionString(database: String) -> String {
        "host='\(clusterDirectory)' port=5432 user=\(Self.superuser) dbname=\(database) connect_timeout=10"
    }

    /// Creates the cluster on first use and starts it unless another process already has.
    public func start() throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        guard (clusterDirectory + "/.s.PGSQL.5432").utf8.count < 100 else {
            throw RegistryError.cluster("the data directory path \(dataDirectory) is too long for a Unix socket; choose a shorter --data-dir")
        }
        try withLock("postgres.lock", exclusive: true) {
            if usersLock < 0 {
                usersLock = try openLockFile("postgres.users")
                if flock(usersLock, LOCK_SH) != 0 { throw RegistryError.cluster("cannot lock \(dataDirectory)/postgres.users") }
            }
            let bin = try Self.binDirectory()
            if !FileManager.default.fileExists(atPath: clusterDirectory + "/PG_VERSION") {
                try initialize(bin: bin)
            }
            try startUnlessServing(bin: bin)
            try createDatabaseIfMissing()
        }
    }

    /// Leaves the cluster; stops the server when no other process is using it.
    public func stop() throws {
        guard usersLock >= 0 else { return }
        try withLock("postgres.lock", exclusive: true) {
            close(usersLock)
            usersLock = -1
            let probe = try openLockFile("postgres.users")
            defer { close(probe) }
            guard flock(probe, LOCK_EX | LOCK_NB) == 0 else { return } // someone else still uses it
            let bin = try Self.binDirectory()
            if try isRunning(bin: bin) {
                try run(bin + "/pg_ctl", ["-D", clusterDirectory, "-m", "fast", "-w", "-t", "60", "stop"], what: "stop the server")
            }
        }
    }

    private func initialize(bin: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: clusterDirectory, withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o700])
        if let runAsUser {
            try makeTraversable(for: runAsUser)
            try run("/bin/chown", [runAsUser, clusterDirectory], what: "give the cluster directory to \(runAsUser)", asServerUser: false)
        }
        try run(bin + "/initdb", ["-D", clusterDirectory, "-U", Self.superuser, "--auth=trust", "-E", "UTF8", "--locale=C"],
                what: "create the cluster")
        // Unix socket inside the cluster directory only; no TCP listener at all.
        let settings = """

            # Set by Tracemark's embedded cluster manager.
            listen_addresses = ''
            unix_socket_directories = '\(clusterDirectory)'
            unix_socket_permissions = 0700
            max_connections = 100
            shared_buffers = 256MB
            logging_collector = off

            """
        let conf = clusterDirectory + "/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: conf) else {
            throw RegistryError.cluster("cannot write \(conf)")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
    }

    private func createDatabaseIfMissing() throws {
        let admin = try PostgresConnection(connectionString: connectionString(database: "postgres"))
        let exists = try admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(Self.databaseName)])
        if exists.rows.isEmpty {
            try admin.execute("CREATE DATABASE \(Self.databaseName)")
        }
    }

    /// Starts the server unless one already accepts connections. `pg_ctl status` alone is not
    /// enough: a postmaster killed a moment ago stays "running" until it is reaped, and a server
    /// recovering from a crash is running but not yet accepting, so wait for one or the other.
    private func startUnlessServing(bin: String) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try isRunning(bin: bin) {
            // pg_isready: 0 accepting, 1 starting up or shutting down, 2 no response.
            if try runStatus(bin + "/pg_isready", ["-h", clusterDirectory, "-p", "5432", "-t", "2"]).code == 0 { return }
            guard ContinuousClock.now < deadline else {
                throw RegistryError.cluster("the server of \(clusterDirectory) is running but has not accepted connections for 60 s\(lastServerProblem())")
            }
            usleep(200_000)
        }
        let log = clusterDirectory + "/server.log"
        let result = try runStatus(bin + "/pg_ctl", ["-D", clusterDirectory, "-l", log, "-w", "-t", "60", "start"])
        guard result.code == 0 else {
            throw RegistryError.cluster("could not start the server (see \(log))\(lastServerProblem())")
        }
    }

    /// The server's own last word on why it failed (its FATAL or PANIC line in server.log, such as
    /// "No space left on device"), for the error message: the log may be far from the operator.
    private func lastServerProblem() -> String {
        guard let log = try? String(contentsOfFile: clusterDirectory + "/server.log", encoding: .utf8) else { return "" }
        let tail = log.split(separator: "\n").suffix(50)
        for line in tail.reversed() {
            if let level = line.range(of: "FATAL:") ?? line.range(of: "PANIC:") {
                return ": " + line[level.upperBound...].trimmingCharacters(in: .whitespaces)
            }
        }
        return ""
    }

    private func isRunning(bin: String) throws -> Bool {
        // pg_ctl status: 0 running, 3 not running, 4 no cluster.
        let status = try runStatus(bin + "/pg_ctl", ["-D", clusterDirectory, "status"])
        return status.code == 0
    }

    /// The server user must be able to reach the cluster through every parent directory; a
    /// 0700 temporary directory gets the search bit (not the read bit) for others.
    private func makeTraversable(for user: String) throws {
        var url = URL(fileURLWithPath: clusterDirectory).deletingLastPathComponent()
        while url.path != "/" {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            if let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value, mode & 0o001 == 0 {
                try FileManager.default.setAttributes([.posixPermissions: mode | 0o001], ofItemAtPath: url.path)
            }
            url.deleteLastPathComponent()
        }
    }

    private func withLock<T>(_ name: String, exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = try openLockFile(name)
        defer { close(fd) }
        guard flock(fd, exclusive ? LOCK_EX : LOCK_SH) == 0 else {
            throw RegistryError.cluster("cannot lock \(dataDirectory)/\(name)")
        }
        return try body()
    }

    private func openLockFile(_ name: String) throws -> Int32 {
        // O_CLOEXEC: the server started from here must not inherit (and so hold) our locks.
        let fd = open(dataDirectory + "/" + name, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RegistryError.cluster("cannot open \(dataDirectory)/\(name): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    private func run(_ tool: String, _ arguments: [String], what: String, asServerUser: Bool = true) throws {
        let result = try runStatus(tool, arguments, asServerUser: asServerUser)
        guard result.code == 0 else {
            throw RegistryError.cluster("could not \(what): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func runStatus(_ tool: String, _ arguments: [String], asServerUser: Bool = true) throws -> (code: Int32, output: String) {
        if asServerUser, let runAsUser {
            return try ChildProcess.run("/sbin/runuser", ["-u", runAsUser, "--", tool] + arguments)
        }
        return try ChildProcess.run(tool, arguments)
    }

    /// PostgreSQL's server programs: `TRACEMARK_PG_BIN`, else the newest Debian `/usr/lib/postgresql/N/bin`.
    public static func binDirectory() throws -> String {
        let fm = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["TRACEMARK_PG_BIN"], fm.fileExists(atPath: configured + "/pg_ctl") {
            return configured
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where fm.fileExists(atPath: "/usr/lib/postgresql/\(version)/bin/pg_ctl") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        for candidate in ["/usr/local/pgsql/bin", "/usr/bin"] where fm.fileExists(atPath: candidate + "/pg_ctl") && fm.fileExists(atPath: candidate + "/initdb") {
            return candidate
        }
        throw RegistryError.cluster("PostgreSQL server programs (initdb, pg_ctl) not found: install Debian's postgresql package (tools/setup does) or set TRACEMARK_PG_BIN")
    }
}
