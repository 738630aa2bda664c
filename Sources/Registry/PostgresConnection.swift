import CLibPQ
import Foundation

/// Rows of a result, decoded eagerly from PostgreSQL's binary format.
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[PostgresValue]]
    /// Rows affected, for INSERT/UPDATE/DELETE.
    public let affected: Int

    public subscript(row: Int, column: String) -> PostgresValue {
        guard let c = columns.firstIndex(of: column) else { return .null }
        return rows[row][c]
    }
}

/// One libpq connection. Not thread-safe: use from one task at a time (the pool hands it out).
/// All statements go through `PQexecParams` with binary parameters and results; there is no
/// string-built SQL.
public final class PostgresConnection: @unchecked Sendable {
    private let connection: OpaquePointer

    public init(connectionString: String) throws {
        guard let connection = PQconnectdb(connectionString) else {
            throw RegistryError.unavailable("out of memory creating a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw RegistryError.unavailable(message)
        }
        self.connection = connection
        // Quiet NOTICEs (e.g. "relation already exists, skipping") instead of printing them.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { PQfinish(connection) }

    public var isOpen: Bool { PQstatus(connection) == CONNECTION_OK }

    /// True between BEGIN and COMMIT or ROLLBACK.
    public var inTransaction: Bool { PQtransactionStatus(connection) != PQTRANS_IDLE }

    /// Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
    public func execute(_ sql: String) throws {
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        try check(result)
    }

    /// Runs one statement with binary parameters and decodes the rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresParameter] = []) throws -> PostgresRows {
        try withResult(sql, parameters, Self.decode)
    }

    /// Executes one statement with binary parameters and results, and hands the checked result to `body`.
    private func withResult<T>(_ sql: String, _ parameters: [PostgresParameter], _ body: (OpaquePointer) throws -> T) throws -> T {
        let encoded = parameters.map(\.bytes)
        let types = parameters.map(\.oid)
        let lengths = encoded.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        // libpq wants stable C pointers for every value at once.
        let buffers: [UnsafeMutablePointer<CChar>?] = encoded.map { bytes in
            guard let bytes else { return nil }
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: source.count) }
            }
            return p
        }
        defer { buffers.forEach { $0?.deallocate() } }
        let values = buffers.map { UnsafePointer($0) }
        let result = PQexecParams(connection, sql, Int32(parameters.count), types, values, lengths, formats, 1)
        defer { PQclear(result) }
        try check(result)
        guard let result else { throw connectionError() }
        return try body(result)
    }

    /// Runs a query whose columns are all `integer` and returns the values row by row in one flat
    /// array: the lookup path reads tens of thousands of rows, too many for a value per cell.
    public func queryInt32(_ sql: String, _ parameters: [PostgresParameter] = [], columns: Int) throws -> [Int32] {
        try withResult(sql, parameters) { result in
            guard Int(PQnfields(result)) == columns else {
                throw RegistryError.decoding("expected \(columns) columns, got \(PQnfields(result))")
            }
            let rows = Int(PQntuples(result))
            var values = [Int32](repeating: 0, count: rows * columns)
            for r in 0..<rows {
                for c in 0..<columns {
                    guard PQgetisnull(result, Int32(r), Int32(c)) == 0, PQgetlength(result, Int32(r), Int32(c)) == 4,
                          PQftype(result, Int32(c)) == 23, let pointer = PQgetvalue(result, Int32(r), Int32(c)) else {
                        throw RegistryError.decoding("column \(c) of row \(r) is not a non-null integer")
                    }
                    values[r * columns + c] = Int32(bigEndian: UnsafeRawPointer(pointer).loadUnaligned(as: Int32.self))
                }
            }
            return values
        }
    }

    /// Streams rows in binary COPY format (`COPY table (cols) FROM STDIN (FORMAT binary)`).
    public func copyIn(_ sql: String, data: [UInt8]) throws {
        let start = PQexec(connection, sql)
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            defer { PQclear(start) }
            try check(start)
            throw RegistryError.statement(message: "COPY did not start", sqlState: nil)
        }
        PQclear(start)
        let sent = data.withUnsafeBytes { raw -> Int32 in
            var offset = 0
            while offset < raw.count {
                let n = min(1 << 20, raw.count - offset)
                let ok = PQputCopyData(connection, raw.baseAddress!.assumingMemoryBound(to: CChar.self) + offset, Int32(n))
                if ok != 1 { return ok }
                offset += n
            }
            return 1
        }
        if sent != 1 || PQputCopyEnd(connection, nil) != 1 {
            throw connectionError()
        }
        // Drain results until libpq reports the COPY's final status.
        var failure: Error?
        while let result = PQgetResult(connection) {
            do { try check(result) } catch { failure = failure ?? error }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    /// Runs `body` inside BEGIN/COMMIT; rolls back on any error.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func check(_ result: OpaquePointer?) throws {
        guard let result else { throw connectionError() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY:
            return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.trimmed(PQresultErrorMessage(result))
            if !isOpen { throw RegistryError.unavailable(message.isEmpty ? "connection lost" : message) }
            throw RegistryError.statement(message: message, sqlState: state)
        }
    }

    private func connectionError() -> RegistryError {
        let message = Self.trimmed(PQerrorMessage(connection))
        return .unavailable(message.isEmpty ? "connection lost" : message)
    }

    private static func decode(_ result: OpaquePointer) throws -> PostgresRows {
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { PQftype(result, Int32($0)) }
        var rows: [[PostgresValue]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var row: [PostgresValue] = []
            row.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                if PQgetisnull(result, r, c) == 1 { row.append(.null); continue }
                let length = Int(PQgetlength(result, r, c))
                let pointer = PQgetvalue(result, r, c)
                let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
                row.append(try PostgresValue(oid: types[Int(c)], bytes: bytes))
            }
            rows.append(row)
        }
        return PostgresRows(columns: columns, rows: rows, affected: affected)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Builds a `COPY ... (FORMAT binary)` stream.
public struct BinaryCopy {
    private var writer = BinaryWriter()

    public init() {
        // Signature, flags, header-extension length.
        writer.bytes(Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        writer.int32(0)
        writer.int32(0)
    }

    public mutating func reserve(rows: Int, bytesPerRow: Int) {
        writer.data.reserveCapacity(writer.data.count + rows * bytesPerRow + 2)
    }

    /// Appends a row of three int4 columns (the fingerprint row; no per-row allocation).
    public mutating func row(_ a: Int32, _ b: Int32, _ c: Int32) {
        writer.int16(3)
        writer.int32(4); writer.int32(a)
        writer.int32(4); writer.int32(b)
        writer.int32(4); writer.int32(c)
    }

    /// The stream with its trailer.
    public func finished() -> [UInt8] {
        var w = writer
        w.int16(-1)
        return w.data
    }
}

/// The libpq this build links (major * 10000 + minor), for `tracemark doctor`.
public enum PostgresLibrary {
    public static var version: String {
        let v = Int(PQlibVersion())
        return "libpq \(v / 10000).\(v % 10000)"
    }
}
