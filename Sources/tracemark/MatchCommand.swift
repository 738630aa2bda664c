import ArgumentParser
import Daemon
import Foundation
import Registry

struct MatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Identify audio against the catalog.",
        discussion: """
            Prints the best track for each file with where the clip starts in the master, or \
            "no match" when fewer than the required number of hashes agree on one offset \
            (docs/fingerprint.md gives the rule).

            When a daemon answers on the socket (--socket, $TRACEMARK_SOCKET, else \
            <data-dir>/run/tracemark.sock), the files are sent to it; otherwise, or with --direct \
            or --database-url, this command opens the database itself.

            Examples:
              tracemark match clip.ogg
              tracemark match a.wav b.mp3 --json
              tracemark match clip.ogg --direct --data-dir /srv/tracemark
              tracemark match clip.ogg --svg match.svg
            """)

    @Argument(help: ArgumentHelp("Audio files to identify.", valueName: "file"))
    var files: [String]

    @Flag(help: "One JSON object per file: {\"file\", \"match\": null | {track_id, source_path, title, artist, isrc, offset_s, score, tempo_factor, pitch_factor, expected_by_chance, false_match_probability}}.")
    var json = false

    @Option(help: ArgumentHelp("Also draw the match as SVG: the shared hashes, query time against master time (one file only).", valueName: "out.svg"))
    var svg: String?

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup var registry: RegistryOptions

    func validate() throws {
        if svg != nil && files.count != 1 { throw ValidationError("--svg draws one match: give exactly one file") }
    }

    /// ", tempo x1.030, pitch +0.51 semitones" when the query is not the master's own speed and pitch.
    static func changes(_ m: Answer.Found) -> String {
        var parts: [String] = []
        let semitones = 12 * log2(m.pitch_factor)
        if abs(m.tempo_factor - 1) >= 0.002 { parts.append(String(format: "tempo x%.3f", m.tempo_factor)) }
        if abs(semitones) >= 0.03 { parts.append(String(format: "pitch %+.2f semitones", semitones)) }
        return parts.isEmpty ? "" : ", " + parts.joined(separator: ", ")
    }

    struct Answer: Encodable {
        struct Found: Encodable {
            let track_id: Int32
            let source_path: String
            let title: String?
            let artist: String?
            let isrc: String?
            let offset_s: Double
            let score: Int
            let tempo_factor: Double
            let pitch_factor: Double
            let expected_by_chance: Double
            let false_match_probability: Double

            init(_ m: TrackMatch) {
                track_id = m.track_id; source_path = m.source_path; title = m.title; artist = m.artist
                isrc = m.isrc; offset_s = m.offset_s; score = m.score
                tempo_factor = m.tempo_factor; pitch_factor = m.pitch_factor
                expected_by_chance = m.expected_by_chance; false_match_probability = m.false_match_probability
            }
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

    /// Where answers come from: the daemon over its socket, or the database opened here.
    enum Source {
        case daemon(DaemonClient)
        case direct(Registry, PostgresConnection)
    }

    func run() async throws {
        let source: Source
        if let client = daemon.client(registry) {
            source = .daemon(client)
        } else {
            let opened = try registry.open()
            do {
                source = .direct(opened, try opened.connect())
            } catch {
                opened.close()
                throw ValidationFailure("\(error)")
            }
        }
        defer { if case let .direct(registry, _) = source { registry.close() } }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = false
        for file in files {
            var answer: Answer
            do {
                let best = try await identify(file, with: source)
                answer = Answer(file: file, match: best.map(Answer.Found.init), error: nil)
            } catch let error as RegistryError where error.isConnectionLoss {
                throw ValidationFailure("\(error)")
            } catch let error as DaemonClient.Failure {
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
                print("\(file): \(name.isEmpty ? "track \(m.track_id)" : name) [track \(m.track_id), \(m.source_path)] at \(String(format: "%.2f", m.offset_s)) s, score \(m.score)\(Self.changes(m))")
            } else {
                print("\(file): no match")
            }
        }
        if let svg, !failed, let file = files.first {
            let picture = try await explain(file, with: source)
            do { try Data(picture.utf8).write(to: URL(fileURLWithPath: svg)) } catch {
                throw ValidationFailure("\(svg): cannot write: \(error.localizedDescription)")
            }
            if !json { print("\(svg): the match drawn") }
        }
        if failed { throw ExitCode.failure }
    }

    /// The picture of the match (`Identifier.explain`), from the daemon or the database.
    private func explain(_ file: String, with source: Source) async throws -> String {
        switch source {
        case let .direct(_, db):
            let identifier = Identifier()
            var timings = IdentificationTimings()
            do {
                return try identifier.explain(try identifier.analysis.decoder.decode(path: file), catalog: Catalog(db), timings: &timings).svg
            } catch { throw ValidationFailure("\(file): \(error)") }
        case let .daemon(client):
            let reply = try await client.send(.POST, "/v1/match?explain=svg", body: Array(try Data(contentsOf: URL(fileURLWithPath: file))),
                                              headers: [("Content-Type", "application/octet-stream")])
            guard reply.status == 200 else { throw ValidationFailure("\(file): \(errorMessage(reply)) (HTTP \(reply.status))") }
            return reply.text
        }
    }

    private func identify(_ file: String, with source: Source) async throws -> TrackMatch? {
        switch source {
        case let .direct(_, db):
            let identifier = Identifier()
            let audio = try identifier.analysis.decoder.decode(path: file)
            var timings = IdentificationTimings()
            return try identifier.identify(audio, top: 1, catalog: Catalog(db), timings: &timings).matches.first
        case let .daemon(client):
            let bytes: [UInt8]
            do {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            } catch {
                throw ValidationFailure("\(file): cannot read: \(error.localizedDescription)")
            }
            let reply = try await client.send(.POST, "/v1/match", body: bytes, headers: [("Content-Type", "application/octet-stream")])
            guard reply.status == 200 else {
                throw ValidationFailure("\(file): \(errorMessage(reply)) (HTTP \(reply.status))")
            }
            do {
                return try JSONDecoder().decode(MatchAnswer.self, from: Data(reply.body)).matches.first
            } catch {
                throw DaemonClient.Failure.protocolError("\(error)")
            }
        }
    }
}
