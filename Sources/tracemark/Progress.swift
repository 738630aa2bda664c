import Foundation
import Synchronization

/// Counts ingest outcomes and draws them: a redrawn bar on a terminal, plain lines otherwise.
final class IngestProgress: Sendable {
    struct Counts {
        var added = 0, skipped = 0, failed = 0
        /// Stored with a stale fingerprint version and fingerprinted again.
        var refreshed = 0
        var bytesDone = 0
        var audioSeconds = 0.0
        var hashes = 0
        var done: Int { added + refreshed + skipped + failed }
    }

    let totalFiles: Int
    let totalBytes: Int
    let started = Date()
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex((counts: Counts(), lastPlain: Date.distantPast))

    init(totalFiles: Int, totalBytes: Int) {
        self.totalFiles = totalFiles
        self.totalBytes = max(totalBytes, 1)
    }

    var counts: Counts { state.withLock { $0.counts } }

    func record(_ update: (inout Counts) -> Void, bytes: Int) {
        state.withLock {
            update(&$0.counts)
            $0.counts.bytesDone += bytes
        }
    }

    /// A failure or notice, printed on its own line above the bar.
    func report(_ line: String) {
        state.withLock { _ in
            if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Redraws the bar (terminal) or prints a line every 10 s and at the end (otherwise).
    func draw(final: Bool = false) {
        state.withLock { s in
            let now = Date()
            if !isTerminal && !final && now.timeIntervalSince(s.lastPlain) < 10 { return }
            s.lastPlain = now
            let c = s.counts
            let elapsed = now.timeIntervalSince(started)
            let fraction = Double(c.bytesDone) / Double(totalBytes)
            let speed = elapsed > 0 ? c.audioSeconds / elapsed : 0
            let eta = fraction > 0.01 && !final ? Self.clock(elapsed / fraction - elapsed) : "--:--"
            let text = String(format: "%d/%d files  %.2f h audio  %.0fx realtime  ETA %@",
                              c.done, totalFiles, c.audioSeconds / 3600, speed, eta)
            if isTerminal {
                let width = 24
                let filled = min(width, Int(fraction * Double(width)))
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                FileHandle.standardError.write(Data("\r\u{1B}[2K[\(bar)] \(text)\(final ? "\n" : "")".utf8))
            } else {
                FileHandle.standardError.write(Data("progress: \(text)\n".utf8))
            }
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.isFinite ? max(seconds, 0) : 0)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
