import ArgumentParser
import Fingerprint
import Foundation
import Registry

struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Identify audio against the catalog.",
        discussion: """
            Prints the best track for each file with where the clip starts in the master, or
            "no match" when fewer than the required number of hashes agree on one offset
            (docs/fingerprint.md gives the rule).

            Examples:
              tracemark match clip.ogg
              tracemark match a.wav b.mp3 --json
            """)

    @Argument(help: ArgumentHelp("Audio files to identify.", valueName: "file"))
    var files: [String]

    @Flag(help: "One JSON object per file: {\"file\", \"match\": null | {track_id, source_path, title, offset_s, score}}.")
    var json = false

    @OptionGroup var registry: RegistryOptions

    struct Answer: Encodable {
        struct Found: Encodable {
            let track_id: Int32
            let source_path: String
            let title: String?
            let artist: String?
            let isrc: String?
            let offset_s: Double
            let score: Int
        }
        let file: String
        let match: Found?
        let error: String?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(file, forKey: .file)
            try c.encode(match, forKey: .match) // null, not absent, when nothing matched
            try c.encodeIfPresent(error, forKey: .error)
        }
        enum CodingKeys: String, CodingKey { case file, match, error }
    }

    func run() throws {
        let registry = try self.registry.open()
        defer { registry.close() }
        let db = try registry.connect()
        let catalog = Catalog(db)
        let analysis = Analysis()
        let matcher = Matcher(parameters: analysis.parameters)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = false
        for file in files {
            var answer: Answer
            do {
                let audio = try analysis.decoder.decode(path: file)
                let query = analysis.queryLandmarks(of: audio)
                let best = matcher.rank(try catalog.hits(for: query)).first
                let track = try best.flatMap { try catalog.tracks(ids: [$0.trackID])[$0.trackID] }
                answer = Answer(file: file, match: best.flatMap { b in track.map { t in
                    Answer.Found(track_id: t.id, source_path: t.sourcePath, title: t.title, artist: t.artist, isrc: t.isrc,
                                 offset_s: (Double(b.offsetFrames) * analysis.parameters.secondsPerFrame * 1000).rounded() / 1000,
                                 score: b.score)
                } }, error: nil)
            } catch let error as RegistryError where error.isConnectionLoss {
                throw ValidationFailure("\(error)")
            } catch {
                failed = true
                answer = Answer(file: file, match: nil, error: "\(error)")
            }
            if json {
                print(String(decoding: try encoder.encode(answer), as: UTF8.self))
            } else if let error = answer.error {
                printError("\(file): \(error)")
            } else if let m = answer.match {
                let name = [m.title, m.artist].compactMap { $0 }.joined(separator: " - ")
                print("\(file): \(name.isEmpty ? "track \(m.track_id)" : name) [track \(m.track_id), \(m.source_path)] at \(String(format: "%.2f", m.offset_s)) s, score \(m.score)")
            } else {
                print("\(file): no match")
            }
        }
        if failed { throw ExitCode.failure }
    }
}
