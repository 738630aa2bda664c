import ArgumentParser
import Audio
import Daemon
import Foundation
import Remix
import Rights

struct RemixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remix",
        abstract: "Edit a recording: trim, tempo and pitch, stem isolation, style presets.",
        discussion: """
            Reads IN (WAV, FLAC, Ogg Vorbis, Opus, MP3) with all its channels at its own rate, \
            applies the edit and writes OUT in the format its extension names (.wav is 16-bit PCM, \
            .flac 16-bit FLAC). The operations run in this order: --trim, --stem, the --style \
            preset, the --edit file, --tempo, --pitch. Styles are looked up in --styles-dir, then \
            ./config/styles, then /etc/tracemark/styles (see `tracemark styles`). Edit files and \
            styles are YAML or JSON; docs/remix.md lists every operation and its parameters.

            With --via-daemon the file and the options go to the daemon (POST /v1/remix), which \
            renders the edit, verifies the result stretch by stretch for --use in --territory, \
            replaces stretches whose policy says replace with new material, watermarks the result \
            and records it in the ledger. OUT is the marked audio; the report (what was found, \
            decided and replaced) is printed, or written as JSON with --report. A remix the rights \
            refuse writes nothing and exits with status 3.

            Examples:
              tracemark remix song.flac -o lofi.wav --style lofi-hiphop
              tracemark remix song.wav -o karaoke.flac --stem accompaniment
              tracemark remix song.wav -o faster.wav --tempo 1.1 --pitch -2 --trim 30:90
              tracemark remix song.wav -o edited.wav --edit my-edit.yaml
              tracemark remix mix.wav -o release.wav --style lofi-hiphop --via-daemon --territory SE
            """)

    @Argument(help: ArgumentHelp("The recording to edit.", valueName: "in"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the result; .wav or .flac.", valueName: "out"))
    var output: String

    @Option(help: ArgumentHelp("A style preset by name (see `tracemark styles`).", valueName: "name"))
    var style: String?

    @Option(help: ArgumentHelp("An edit file (YAML or JSON) with an `operations` list.", valueName: "file"))
    var edit: String?

    @Option(help: ArgumentHelp("Tempo ratio with pitch kept, 0.25-4 (1.1 = 10 % faster).", valueName: "ratio"))
    var tempo: Double?

    @Option(help: ArgumentHelp("Pitch shift in semitones with tempo kept, -24 to 24.", valueName: "semitones"))
    var pitch: Double?

    @Option(help: ArgumentHelp("Keep only A to B seconds (A: or :B leave one end open).", valueName: "A:B"))
    var trim: String?

    @Option(help: ArgumentHelp("Keep one stem: vocals, accompaniment, harmonic or percussive.", valueName: "name"))
    var stem: String?

    @Option(name: .customLong("styles-dir"), help: ArgumentHelp("A directory of style files searched before the standard ones.", valueName: "dir"))
    var stylesDirectory: String?

    @Flag(help: "Print the decode, render and write times (and the render's processor time) as JSON on standard error.")
    var timings = false

    @Flag(name: .customLong("via-daemon"), help: "Have the daemon render, check the rights, replace, watermark and record (needs --territory).")
    var viaDaemon = false

    @Option(help: ArgumentHelp("With --via-daemon: ISO 3166-1 alpha-2 code of where the remix is released.", valueName: "code"))
    var territory: String?

    @Option(help: ArgumentHelp("With --via-daemon: the use to check (stream, remix, cover, sample, sync).", valueName: "use"))
    var use = "remix"

    @Option(help: ArgumentHelp("With --via-daemon: seed of the new material in replaced stretches (same seed, same audio).", valueName: "n"))
    var seed: UInt64?

    @Option(help: ArgumentHelp("With --via-daemon: write the report as JSON to this file.", valueName: "file"))
    var report: String?

    @Option(help: ArgumentHelp("With --via-daemon: the daemon's socket (default: $TRACEMARK_SOCKET, else $TRACEMARK_HOME/run/tracemark.sock, else ./var/run/tracemark.sock).", valueName: "path"))
    var socket: String?

    func validate() throws {
        let known = ["wav", "flac", "ogg", "oga", "opus", "mp3"]
        let ext = (output as NSString).pathExtension.lowercased()
        guard known.contains(ext) else {
            throw ValidationError("--output \(output): the extension decides the format; use .wav or .flac (also .ogg, .opus, .mp3)")
        }
        if let stem, Stem(rawValue: stem) == nil {
            throw ValidationError("--stem \(stem): expected one of \(Stem.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let options: RemixOptions
        do { options = try remixOptions(readingEdit: false) } catch let problem as RemixOptions.Problem {
            throw ValidationError("--\(problem)")
        }
        if viaDaemon {
            guard let territory else { throw ValidationError("--via-daemon needs --territory: where the remix is released") }
            guard Territories.isAssigned(territory.uppercased()) else { throw ValidationError("--territory '\(territory)' is not an ISO 3166-1 alpha-2 code") }
            guard Use(rawValue: use) != nil else { throw ValidationError("--use must be one of \(Use.allCases.map(\.rawValue).joined(separator: ", "))") }
            if stylesDirectory != nil { throw ValidationError("--styles-dir applies to local remixes; the daemon reads its own (remix.stylesDir)") }
        } else {
            if options.isEmpty && edit == nil {
                throw ValidationError("nothing to do: give --style, --edit, --tempo, --pitch, --trim or --stem")
            }
            if territory != nil || seed != nil || report != nil || socket != nil {
                throw ValidationError("--territory, --seed, --report and --socket go with --via-daemon")
            }
        }
    }

    /// The options as one remix; the edit file is read only when `readingEdit`.
    func remixOptions(readingEdit: Bool = true) throws -> RemixOptions {
        var options = RemixOptions()
        options.trim = try trim.map(RemixOptions.trim(parsing:))
        options.stem = stem.flatMap(Stem.init(rawValue:))
        options.style = style
        if readingEdit, let edit { options.edit = try StyleLibrary.readEdit(path: edit) }
        options.tempo = tempo
        options.pitch = pitch
        try options.validate()
        return options
    }

    /// The whole chain the options describe, in the documented order.
    func buildEdit() throws -> Edit {
        try remixOptions().composed(styles: StyleLibrary(directories: StyleLibrary.standardDirectories(explicit: stylesDirectory)))
    }

    func run() async throws {
        if viaDaemon { return try await runViaDaemon() }
        let chain: Edit
        do { chain = try buildEdit() } catch let error as EditError { throw ValidationFailure("\(error)") }
            catch let problem as RemixOptions.Problem { throw ValidationFailure("--\(problem)") }
        let clock = ContinuousClock()
        let started = clock.now
        let audio: AudioBuffer
        do { audio = try AudioDecoder.decodeMultichannel(path: input) } catch { throw ValidationFailure("\(error)") }
        let decoded = clock.now
        // Processor time of the render as well as wall time: on a shared machine the wall time
        // includes whatever ran in between, the processor time does not.
        let cpuBefore = processorSeconds()
        let inputDuration = audio.duration
        let progress = RemixProgress()
        let result: AudioBuffer
        do {
            result = try Renderer().render(chain, consume audio) { fraction, stage in progress.update(fraction, stage) }
        } catch {
            progress.clear()
            throw ValidationFailure("\(input): \(error)")
        }
        progress.clear()
        let rendered = clock.now
        let renderProcessor = processorSeconds() - cpuBefore
        do { try AudioWriter.write(result, to: output) } catch { throw ValidationFailure("\(error)") }
        let written = clock.now
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        if timings {
            let line = String(format: #"{"decode_s":%.4f,"render_s":%.4f,"render_cpu_s":%.4f,"write_s":%.4f,"input_s":%.3f,"output_s":%.3f,"channels":%d,"sample_rate":%d}"#,
                              seconds(decoded - started), seconds(rendered - decoded), renderProcessor, seconds(written - rendered),
                              inputDuration, result.duration, result.channelCount, result.sampleRate)
            printError(line)
        }
        print(String(format: "%@: %.2f s, %d channel%@ at %d Hz (%d operation%@, rendered in %.2f s)", output, result.duration,
                     result.channelCount, result.channelCount == 1 ? "" : "s", result.sampleRate,
                     chain.operations.count, chain.operations.count == 1 ? "" : "s", seconds(rendered - decoded)))
    }
}

extension RemixCommand {
    /// Exit status of a remix the rights refuse.
    static let refused = ExitCode(3)

    func runViaDaemon() async throws {
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: input))) } catch {
            throw ValidationFailure("\(input): cannot read: \(error.localizedDescription)")
        }
        let environment = ProcessInfo.processInfo.environment
        let path = socket ?? environment["TRACEMARK_SOCKET"]
            ?? DaemonConfiguration.defaultSocketPath(dataDirectory: environment["TRACEMARK_HOME"] ?? "./var")
        func parameter(_ name: String, _ value: String?) -> String {
            value.map { "&\(name)=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""
        }
        let editText: String?
        do { editText = try edit.map { try String(contentsOfFile: $0, encoding: .utf8) } } catch {
            throw ValidationFailure("\(edit ?? ""): cannot read as UTF-8 text")
        }
        let ext = (output as NSString).pathExtension.lowercased()
        let target = "/v1/remix?use=\(use)&territory=\(territory?.uppercased() ?? "")&output=\(ext)"
            + parameter("style", style) + parameter("edit", editText) + parameter("tempo", tempo.map { "\($0)" })
            + parameter("pitch", pitch.map { "\($0)" }) + parameter("trim", trim) + parameter("stem", stem) + parameter("seed", seed.map(String.init))
        let reply: DaemonClient.Reply
        do {
            reply = try await DaemonClient(socketPath: path).send(.POST, target, body: bytes, headers: [("Content-Type", "application/octet-stream")])
        } catch {
            throw ValidationFailure("\(error): start one with `tracemark serve`, or remix locally without --via-daemon")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let remixReport: RemixReport
        if reply.status == 200 {
            guard let header = reply.header("Tracemark-Report"), let decoded = try? decoder.decode(RemixReport.self, from: Data(header.utf8)) else {
                throw ValidationFailure("the daemon answered without a readable Tracemark-Report header")
            }
            remixReport = decoded
            do { try Data(reply.body).write(to: URL(fileURLWithPath: output)) } catch {
                throw ValidationFailure("\(output): cannot write: \(error.localizedDescription)")
            }
        } else if reply.status == 451, let body = try? decoder.decode(APIError.Body.self, from: Data(reply.body)), let refusedReport = body.error.report {
            remixReport = refusedReport
        } else {
            throw ValidationFailure("\(input): \(errorMessage(reply)) (HTTP \(reply.status))")
        }
        if let report {
            do { try APIJSON.encode(remixReport).write(to: URL(fileURLWithPath: report)) } catch {
                throw ValidationFailure("\(report): cannot write: \(error.localizedDescription)")
            }
        }
        print(Self.summary(remixReport, output: output))
        if !remixReport.released { throw Self.refused }
    }

    /// The report in a few lines: the verdict, then each stretch with what happened to it.
    static func summary(_ r: RemixReport, output: String) -> String {
        var lines = [r.released
            ? "\(output): released with watermark serial \(r.serial.map(String.init) ?? "?") (verification \(r.verification_id), \(r.use.rawValue) in \(r.territory))"
            : "refused: the rights block this \(r.use.rawValue) in \(r.territory) (verification \(r.verification_id)); nothing written"]
        for s in r.segments {
            let what = s.segment.track.map { "track \($0.track_id)" + ($0.title.map { " \($0)" } ?? "") } ?? "no catalog recording"
            // Foundation on Linux ignores widths on %@: pad the outcome by hand.
            var line = String(format: "  %7.2f-%7.2f s  ", s.segment.start_s, s.segment.end_s)
                + s.outcome.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + " " + what
            line += ": \(s.applied.rawValue)"
            if let replacement = s.replacement {
                line += String(format: " (new material %.2f-%.2f s, %@, %.0f BPM, %d round%@)", replacement.start_s, replacement.end_s,
                               replacement.key, replacement.tempo_bpm, replacement.rounds.count, replacement.rounds.count == 1 ? "" : "s")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// One redrawn progress line on a terminal once rendering has taken more than half a second;
/// a line every 5 s otherwise.
final class RemixProgress {
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false
    private let isTerminal = isatty(STDERR_FILENO) == 1

    func update(_ fraction: Double, _ stage: String) {
        let now = Date()
        guard now.timeIntervalSince(started) > 0.5 else { return }
        let interval = isTerminal ? 0.1 : 5
        guard now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        let text = String(format: "remix: %3.0f%%  %@", fraction * 100, stage)
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
            drawn = true
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}

/// Processor time used by the process so far, in seconds.
private func processorSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
