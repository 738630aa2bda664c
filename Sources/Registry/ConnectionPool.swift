import Foundation

/// A bounded set of connections shared by threads that run blocking database work.
///
/// Connections are opened on demand up to `capacity` and reused. A connection that fails with a
/// connection-level error is dropped, and so is every idle one (a server that went away took
/// them all with it), so the pool heals by itself once the server is back: the next caller opens
/// a fresh connection. Thread-safe; `withConnection` blocks while all `capacity` are in use.
public final class ConnectionPool: @unchecked Sendable {
    public let connectionString: String
    public let capacity: Int

    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var inUse = 0
    private var closed = false

    public struct Usage: Sendable, Equatable {
        public let inUse: Int
        public let idle: Int
        public let capacity: Int
    }

    public init(connectionString: String, capacity: Int) {
        self.connectionString = connectionString
        self.capacity = max(1, capacity)
    }

    public var usage: Usage {
        condition.withLock { Usage(inUse: inUse, idle: idle.count, capacity: capacity) }
    }

    /// Runs `body` with a connection of its own. With `retryOnStaleConnection`, a body that
    /// failed because a pooled connection had died (the server restarted since it was opened)
    /// runs once more on a fresh connection: only for bodies that are safe to repeat.
    public func withConnection<T>(retryOnStaleConnection: Bool = false, _ body: (PostgresConnection) throws -> T) throws -> T {
        let (connection, reused) = try checkOut()
        do {
            let value = try body(connection)
            checkIn(connection, healthy: true)
            return value
        } catch let error as RegistryError where error.unavailableShard != nil && connection.isOpen {
            // A shard (postgres_fdw) could not be reached: this connection and the idle ones still
            // work, and running the body again would only wait for the shard again.
            checkIn(connection, healthy: true)
            throw error
        } catch let error as RegistryError where error.isConnectionLoss {
            checkIn(connection, healthy: false)
            guard retryOnStaleConnection, reused else { throw error }
            let (fresh, _) = try checkOut(forceNew: true)
            do {
                let value = try body(fresh)
                checkIn(fresh, healthy: true)
                return value
            } catch {
                checkIn(fresh, healthy: !((error as? RegistryError)?.isConnectionLoss ?? false))
                throw error
            }
        } catch {
            checkIn(connection, healthy: connection.isOpen)
            throw error
        }
    }

    /// Closes idle connections; connections in use close when they come back.
    public func close() {
        condition.withLock {
            closed = true
            idle.removeAll()
            condition.broadcast()
        }
    }

    private func checkOut(forceNew: Bool = false) throws -> (PostgresConnection, reused: Bool) {
        condition.lock()
        while !closed, inUse >= capacity { condition.wait() }
        if closed {
            condition.unlock()
            throw RegistryError.unavailable("the connection pool is closed (shutting down)")
        }
        inUse += 1
        let pooled = forceNew ? nil : idle.popLast()
        condition.unlock()
        if let pooled { return (pooled, true) }
        do {
            return (try PostgresConnection(connectionString: connectionString), false)
        } catch {
            condition.withLock {
                inUse -= 1
                condition.signal()
            }
            throw error
        }
    }

    private func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        condition.withLock {
            inUse -= 1
            if healthy, !closed {
                idle.append(connection)
            } else if !healthy {
                idle.removeAll()
            }
            condition.signal()
        }
    }
}
