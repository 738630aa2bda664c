import Foundation

/// A value shared by a test's threads (a child process's output readers, concurrent clients).
public final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    public init(_ value: T) { stored = value }
    public var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    public func modify(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
