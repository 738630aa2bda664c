import ArgumentParser
import Audio
import Daemon
import Dispatch
import Fingerprint
import Foundation
import Registry
import Synchronization

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Fingerprint masters into the catalog.",
        discussion: """
            Reads WAV, FLAC, Ogg Vorbis, Opus and MP3; directories are searched recursively for \
            files with those extensions, skipping hidden files and folders (names starting with a \
            dot). Each track is stored in one transaction, so an interrupted \
            ingest leaves no partial track, and running it again skips what is already stored (by \
            content SHA-256) and finishes the rest. Exits non-zero when any file failed.

            Examples:
              tracemark ingest masters/
              tracemark ingest masters/ --metadata masters/catalog.csv --jobs 4
            """)

    @Argument(help: ArgumentHelp("Audio files or directories.", valueName: "path"))
    var paths: [String]

    @Option(name: .shortAndLong, help: "Files processed in parallel (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("CSV or JSON sidecar with title, artist, album and isrc per file (keyed by file name or path).", valueName: "file"))
    var metadata: String?

    @Flag(help: "Only decode the files: no fingerprints, no database. Checks that a catalog is readable and measures the decoding floor.")
    var decodeOnly = false

    @OptionGroup var registry: RegistryOptions

    static let audioExtensions: Set = ["wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff"]

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let sidecar = try metadata.map { try MetadataSidecar(path: $0) } ?? MetadataSidecar()
        let (files, missing) = Self.collect(paths)
        for path in missing { printError("\(path): no such file or directory") }
        guard !files.isEmpty else { throw ValidationFailure("no audio files found in \(paths.joined(separator: " "))") }

        let registry = decodeOnly ? nil : try self.registry.open()
        defer { registry?.close() }

        let progress = IngestProgress(totalFiles: files.count, totalBytes: files.reduce(0) { $0 + $1.bytes })
        let shared = WorkQueue()
        let interrupt = Interrupt { shared.stop.store(true, ordering: .relaxed) }
        let group = DispatchGroup()

        for _ in 0..<min(jobs, files.count) {
            group.enter()
            let worker = Thread {
                defer { group.leave() }
                let db: PostgresConnection?
                do { db = try registry?.connect() } catch {
                    shared.fail("\(error)")
                    return
                }
                while let index = shared.take(below: files.count) {
                    let file = files[index]
                    do {
                        try Self.ingest(file, sidecar: sidecar, db: db, progress: progress)
                    } catch let error as RegistryError where error.isConnectionLoss {
                        shared.fail("\(error)")
                    } catch let error as RegistryError where error.isDiskFull {
                        progress.record({ $0.failed += 1 }, bytes: file.bytes)
                        shared.fail("the database's disk is full (\(error)); \(file.path) was not stored. "
                                    + "Every track stored so far is complete: free space and run the same ingest again")
                    } catch let error as RegistryError {
                        progress.record({ $0.failed += 1 }, bytes: file.bytes)
                        progress.report("failed: \(file.path): \(error)")
                    } catch {
                        progress.record({ $0.failed += 1 }, bytes: file.bytes)
                        progress.report("failed: \(error)")
                    }
                }
            }
            worker.stackSize = 8 << 20
            worker.start()
        }
        while group.wait(timeout: .now() + 0.25) == .timedOut { progress.draw() }
        progress.draw(final: true)
        interrupt.cancel()

        let c = progress.counts
        if c.added + c.refreshed > 0, let registry {
            // Marks the new rows all-visible, so lookups read them with index-only scans, and
            // refreshes the planner's statistics; reads only the pages this run wrote.
            try? registry.connect().execute("VACUUM (ANALYZE) fingerprints")
        }
        let elapsed = Date().timeIntervalSince(progress.started)
        print(String(format: "%@ %d, skipped %d, failed %d%@; %.2f h of audio, %d hashes, %.1f s, %.0fx realtime",
                     decodeOnly ? "decoded" : "added", c.added, c.skipped, c.failed,
                     c.refreshed > 0 ? ", re-fingerprinted \(c.refreshed)" : "", c.audioSeconds / 3600, c.hashes,
                     elapsed, elapsed > 0 ? c.audioSeconds / elapsed : 0))
        if let message = shared.fatal.withLock({ $0 }) { throw ValidationFailure("ingest stopped: \(message)") }
        if interrupt.fired { throw ExitCode(130) }
        if c.failed > 0 || !missing.isEmpty { throw ExitCode.failure }
    }

    private static func ingest(_ file: AudioFile, sidecar: MetadataSidecar, db: PostgresConnection?, progress: IngestProgress) throws {
        guard let db else {
            let decoded = try AudioDecoder.decodeOnly(path: file.path)
            progress.record({ $0.added += 1; $0.audioSeconds += Double(decoded.frames) / Double(max(decoded.sampleRate, 1)) }, bytes: file.bytes)
            return
        }
        let catalog = Catalog(db)
        let sha = try ContentDigest.sha256(fileAt: file.path)
        let analysis = Analysis()
        let version = analysis.parameters.version
        let stored = try catalog.stored(contentSHA256: sha)
        if let stored, stored.version == version {
            progress.record({ $0.skipped += 1 }, bytes: file.bytes)
            return
        }
        let audio = try analysis.decoder.decode(path: file.path)
        let landmarks = analysis.landmarks(of: audio)
        if let stored {
            // Stored with another fingerprint version: same track and metadata, new hashes.
            try catalog.replaceFingerprints(trackID: stored.id, landmarks: landmarks, version: version)
            progress.record({ $0.refreshed += 1; $0.hashes += landmarks.count }, bytes: file.bytes)
            return
        }
        let meta = sidecar.entry(for: file.path)
        let track = NewTrack(sourcePath: file.path, contentSHA256: sha, title: meta?.title, artist: meta?.artist,
                             album: meta?.album, isrc: meta?.isrc, duration: audio.sourceDuration,
                             sampleRate: audio.sourceSampleRate, channels: audio.sourceChannels)
        // The sidecar's rights rule, attached to the master's content hash with the track itself.
        let storeRights: ((Int32) throws -> Void)? = meta?.rights.map { rights in { _ in
            let target = PolicyTarget(kind: .content, value: sha.map { String(format: "%02x", $0) }.joined())
            _ = try RightsStore(db).applyInTransaction([PolicyChange(target: target, holder: rights.holder, rules: [rights.rule],
                                                                     origin: file.path)], source: sidecar.path ?? "metadata sidecar")
        } }
        switch try catalog.store(track, landmarks: landmarks, version: version, alsoStore: storeRights) {
        case .added:
            progress.record({ $0.added += 1; $0.audioSeconds += audio.sourceDuration; $0.hashes += landmarks.count }, bytes: file.bytes)
        case .duplicate:
            progress.record({ $0.skipped += 1 }, bytes: file.bytes)
        }
    }

    struct AudioFile {
        let path: String
        let bytes: Int
    }

    /// Files named directly are taken as they are; directories contribute their audio files.
    static func collect(_ paths: [String]) -> (files: [AudioFile], missing: [String]) {
        let fm = FileManager.default
        var files: [AudioFile] = [], missing: [String] = []
        var seen = Set<String>()
        func add(_ path: String) {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            guard seen.insert(absolute).inserted else { return }
            let size = (try? fm.attributesOfItem(atPath: absolute)[.size] as? NSNumber)?.intValue ?? 0
            files.append(AudioFile(path: absolute, bytes: size))
        }
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { missing.append(path); continue }
            guard isDirectory.boolValue else { add(path); continue }
            // Hidden files and folders are skipped: that is where renders, copies and editors
            // keep files that are still being written.
            let found = (fm.enumerator(atPath: path)?.allObjects as? [String] ?? [])
                .filter { audioExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }
                .sorted()
            for relative in found { add((path as NSString).appendingPathComponent(relative)) }
        }
        return (files, missing)
    }
}

/// Hands out file indices to workers until the end, a stop request, or a fatal error.
final class WorkQueue: Sendable {
    let stop = Atomic<Bool>(false)
    let fatal = Mutex<String?>(nil)
    private let next = Mutex(0)

    func take(below count: Int) -> Int? {
        guard !stop.load(ordering: .relaxed) else { return nil }
        return next.withLock { i in
            guard i < count else { return nil }
            defer { i += 1 }
            return i
        }
    }

    /// Records the first fatal error (the database went away) and stops everyone.
    func fail(_ message: String) {
        fatal.withLock { $0 = $0 ?? message }
        stop.store(true, ordering: .relaxed)
    }
}

/// SIGINT/SIGTERM ask the command to stop taking new work; work in flight finishes or rolls back.
final class Interrupt: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let flag = Atomic<Bool>(false)

    init(_ handler: @escaping @Sendable () -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [unowned self] in
                self.flag.store(true, ordering: .relaxed)
                handler()
            }
            source.resume()
            sources.append(source)
        }
    }

    var fired: Bool { flag.load(ordering: .relaxed) }

    func cancel() {
        sources.forEach { $0.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
