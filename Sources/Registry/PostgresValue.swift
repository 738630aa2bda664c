import Foundation

/// A parameter sent in PostgreSQL's binary format.
public enum PostgresParameter: Sendable {
    case null
    case int32(Int32)
    case int64(Int64)
    case float64(Double)
    case text(String)
    case bytea([UInt8])
    case int32Array([Int32])
    case textArray([String])
    case timestamp(Date)

    var oid: UInt32 {
        switch self {
        case .null: return 0
        case .int32: return 23
        case .int64: return 20
        case .float64: return 701
        case .text: return 25
        case .bytea: return 17
        case .int32Array: return 1007
        case .textArray: return 1009
        case .timestamp: return 1184
        }
    }

    var bytes: [UInt8]? {
        var w = BinaryWriter()
        switch self {
        case .null: return nil
        case let .int32(v): w.int32(v)
        case let .int64(v): w.int64(v)
        case let .float64(v): w.int64(Int64(bitPattern: v.bitPattern))
        case let .text(s): w.bytes(Array(s.utf8))
        case let .bytea(b): w.bytes(b)
        case let .int32Array(values):
            // ndim, has-nulls, element oid, length, lower bound, then (length, value) pairs.
            w.int32(1); w.int32(0); w.int32(23); w.int32(Int32(values.count)); w.int32(1)
            for v in values { w.int32(4); w.int32(v) }
        case let .textArray(values):
            w.int32(1); w.int32(0); w.int32(25); w.int32(Int32(values.count)); w.int32(1)
            for v in values { w.int32(Int32(v.utf8.count)); w.bytes(Array(v.utf8)) }
        case let .timestamp(date):
            w.int64(PostgresValue.microseconds(since2000: date))
        }
        return w.data
    }
}

/// A value decoded from a binary-format result column.
public enum PostgresValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])
    case bool(Bool)
    case timestamp(Date)

    static let epoch2000 = Date(timeIntervalSince1970: 946_684_800)

    static func microseconds(since2000 date: Date) -> Int64 {
        Int64((date.timeIntervalSince(epoch2000) * 1_000_000).rounded())
    }

    init(oid: UInt32, bytes: UnsafeRawBufferPointer) throws {
        func bigEndian<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard bytes.count == MemoryLayout<T>.size else {
                throw RegistryError.decoding("column of type \(oid) has \(bytes.count) bytes")
            }
            return T(bigEndian: bytes.loadUnaligned(as: T.self))
        }
        switch oid {
        case 16: self = .bool(bytes.first == 1)
        case 21: self = .int(Int64(try bigEndian(Int16.self)))
        case 23, 26: self = .int(Int64(try bigEndian(Int32.self)))
        case 20: self = .int(try bigEndian(Int64.self))
        case 700: self = .double(Double(Float(bitPattern: try bigEndian(UInt32.self))))
        case 701: self = .double(Double(bitPattern: try bigEndian(UInt64.self)))
        case 17: self = .bytes(Array(bytes))
        case 1114, 1184:
            let micros = try bigEndian(Int64.self)
            self = .timestamp(Self.epoch2000.addingTimeInterval(Double(micros) / 1_000_000))
        default: self = .text(String(decoding: bytes, as: UTF8.self))
        }
    }

    public var int: Int64? { if case let .int(v) = self { return v }; return nil }
    public var double: Double? {
        switch self {
        case let .double(v): return v
        case let .int(v): return Double(v)
        default: return nil
        }
    }
    public var text: String? { if case let .text(v) = self { return v }; return nil }
    public var bytes: [UInt8]? { if case let .bytes(v) = self { return v }; return nil }
    public var date: Date? { if case let .timestamp(v) = self { return v }; return nil }
}

/// Big-endian encoder for binary parameters and binary COPY.
struct BinaryWriter {
    var data: [UInt8] = []
    mutating func int16(_ v: Int16) { withUnsafeBytes(of: v.bigEndian) { data.append(contentsOf: $0) } }
    mutating func int32(_ v: Int32) { withUnsafeBytes(of: v.bigEndian) { data.append(contentsOf: $0) } }
    mutating func int64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { data.append(contentsOf: $0) } }
    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
}
