import ArgumentParser
import Audio
import Foundation
import Remix

struct RemixCommand: ParsableCommand {
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

            Examples:
              tracemark remix song.flac -o lofi.wav --style lofi-hiphop
              tracemark remix song.wav -o karaoke.flac --stem accompaniment
              tracemark remix song.wav -o faster.wav --tempo 1.1 --pitch -2 --trim 30:90
              tracemark remix song.wav -o edited.wav --edit my-edit.yaml
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

    @Flag(help: "Print the decode, render and write times as JSON on standard error.")
    var timings = false

    func validate() throws {
        let known = ["wav", "flac", "ogg", "oga", "opus", "mp3"]
        let ext = (output as NSString).pathExtension.lowercased()
        guard known.contains(ext) else {
            throw ValidationError("--output \(output): the extension decides the format; use .wav or .flac (also .ogg, .opus, .mp3)")
        }
        if style == nil && edit == nil && tempo == nil && pitch == nil && trim == nil && stem == nil {
            throw ValidationError("nothing to do: give --style, --edit, --tempo, --pitch, --trim or --stem")
        }
        if let tempo, !(0.25...4).contains(tempo) { throw ValidationError("--tempo \(tempo) is outside 0.25-4") }
        if let pitch, !(-24...24).contains(pitch) { throw ValidationError("--pitch \(pitch) is outside -24 to 24 semitones") }
        if let stem, Stem(rawValue: stem) == nil {
            throw ValidationError("--stem \(stem): expected one of \(Stem.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        _ = try trimRange()
    }

    /// --trim as (start, end) seconds.
    func trimRange() throws -> (Double, Double?)? {
        guard let trim else { return nil }
        let parts = trim.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { throw ValidationError("--trim \(trim): expected A:B in seconds, such as 12.5:40, :30 or 10:") }
        let start = parts[0].isEmpty ? 0 : Double(parts[0])
        let end = parts[1].isEmpty ? nil : Double(parts[1])
        guard let start, start >= 0, parts[1].isEmpty || end != nil else {
            throw ValidationError("--trim \(trim): A and B must be seconds, such as 12.5:40")
        }
        if let end, end <= start { throw ValidationError("--trim \(trim): B must be after A") }
        return (start, end)
    }

    /// The whole chain the options describe, in the documented order.
    func buildEdit() throws -> Edit {
        var operations: [EditOperation] = []
        if let (start, end) = try trimRange() { operations.append(.trim(start: start, end: end)) }
        if let stem, let chosen = Stem(rawValue: stem) { operations.append(.isolate(chosen)) }
        if let style {
            let library = StyleLibrary(directories: StyleLibrary.standardDirectories(explicit: stylesDirectory))
            operations += try library.style(named: style).edit.operations
        }
        if let edit { operations += try StyleLibrary.readEdit(path: edit).operations }
        if let tempo { operations.append(.tempo(ratio: tempo)) }
        if let pitch { operations.append(.pitch(semitones: pitch)) }
        return Edit(operations: operations)
    }

    func run() throws {
        let chain: Edit
        do { chain = try buildEdit() } catch let error as EditError { throw ValidationFailure("\(error)") }
        let clock = ContinuousClock()
        let started = clock.now
        let audio: AudioBuffer
        do { audio = try AudioDecoder.decodeMultichannel(path: input) } catch { throw ValidationFailure("\(error)") }
        let decoded = clock.now
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
        do { try AudioWriter.write(result, to: output) } catch { throw ValidationFailure("\(error)") }
        let written = clock.now
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        if timings {
            let line = String(format: #"{"decode_s":%.4f,"render_s":%.4f,"write_s":%.4f,"input_s":%.3f,"output_s":%.3f,"channels":%d,"sample_rate":%d}"#,
                              seconds(decoded - started), seconds(rendered - decoded), seconds(written - rendered),
                              inputDuration, result.duration, result.channelCount, result.sampleRate)
            printError(line)
        }
        print(String(format: "%@: %.2f s, %d channel%@ at %d Hz (%d operation%@, rendered in %.2f s)", output, result.duration,
                     result.channelCount, result.channelCount == 1 ? "" : "s", result.sampleRate,
                     chain.operations.count, chain.operations.count == 1 ? "" : "s", seconds(rendered - decoded)))
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
