import ArgumentParser
import Audio
import Fingerprint
import Foundation
import Pictures

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what the fingerprinter sees in a file: its spectrogram, peaks and landmark pairs.",
        discussion: """
            Decodes FILE as ingest and match do (mono at the analysis rate), prints the counts of \
            constellation peaks and landmark pairs, and with --svg draws the spectrogram with the \
            peaks (red) and a sample of the pairs (blue lines from anchor to target). Needs no \
            database. Long files are drawn whole at a coarser grain; trim them first for detail.

            Examples:
              tracemark inspect clip.ogg --svg clip.svg
              rsvg-convert clip.svg -o clip.png
            """)

    @Argument(help: ArgumentHelp("The audio file (WAV, FLAC, Ogg Vorbis, Opus, MP3).", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Write the picture here as SVG.", valueName: "out.svg"))
    var svg: String?

    @Option(help: ArgumentHelp("Landmark pairs drawn at most (a sample of all).", valueName: "n"))
    var pairs = 300

    func run() throws {
        let parameters = FingerprintParameters.current
        let audio: DecodedAudio
        do { audio = try AudioDecoder(targetSampleRate: parameters.sampleRate).decode(path: file) } catch {
            throw ValidationFailure("\(error)")
        }
        let picture = Pictures.constellation(samples: audio.samples, title: (file as NSString).lastPathComponent,
                                             parameters: parameters, pairSample: max(pairs, 0))
        print(String(format: "%@: %.2f s, %d peaks (%.1f per second), %d landmark pairs (%.1f per second), fingerprint version %d",
                     file, audio.duration, picture.peaks, Double(picture.peaks) / max(audio.duration, 1e-9),
                     picture.pairs, Double(picture.pairs) / max(audio.duration, 1e-9), parameters.version))
        if let svg {
            do { try Data(picture.svg.utf8).write(to: URL(fileURLWithPath: svg)) } catch {
                throw ValidationFailure("\(svg): cannot write: \(error.localizedDescription)")
            }
            print("\(svg): spectrogram, peaks and pairs drawn")
        }
    }
}
