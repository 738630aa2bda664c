import ArgumentParser
import Audio
import Daemon
import Foundation
import Registry
import Rights

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decide what the rights allow for a use of some audio, stretch by stretch.",
        discussion: """
            Finds every master in the audio (a file may hold several one after another, or none), \
            decides each stretch under the policies in force at --at (default now) for the use and \
            territory, and records the verification. The overall decision is the strictest of the \
            stretches. Goes through the daemon when one answers on the socket, like match.

            Examples:
              tracemark verify upload.ogg --use remix --territory SE
              tracemark verify clip.wav --use sync --territory US --at 2026-01-01T00:00:00Z --json
            """)

    @Argument(help: ArgumentHelp("The audio file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("stream, remix, cover, sample or sync.", valueName: "use"))
    var use: String

    @Option(help: ArgumentHelp("ISO 3166-1 alpha-2 code of where the use happens.", valueName: "code"))
    var territory: String

    @Option(help: ArgumentHelp("Decide under the rules as they stood then (ISO 8601; default now).", valueName: "time"))
    var at: String?

    @Flag(help: "Print the daemon's JSON answer.")
    var json = false

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup var registry: RegistryOptions

    func validate() throws {
        guard Use(rawValue: use) != nil else { throw ValidationError("--use must be one of \(Use.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard Territories.isAssigned(territory.uppercased()) else { throw ValidationError("--territory '\(territory)' is not an ISO 3166-1 alpha-2 code") }
        if let at, RightsFile.parseDate(at) == nil { throw ValidationError("--at '\(at)' is not an ISO 8601 time") }
    }

    func run() async throws {
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
            throw ValidationFailure("\(file): cannot read: \(error.localizedDescription)")
        }
        let answer: VerifyAnswer
        if let client = daemon.client(registry) {
            var target = "/v1/verify?use=\(use)&territory=\(territory.uppercased())"
            if let at { target += "&at=" + (at.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? at) }
            let reply = try await client.send(.POST, target, body: bytes, headers: [("Content-Type", "application/octet-stream")])
            guard reply.status == 200 else {
                throw ValidationFailure("\(file): \(errorMessage(reply)) (HTTP \(reply.status))")
            }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            answer = try decoder.decode(VerifyAnswer.self, from: Data(reply.body))
        } else {
            answer = try await verifyDirectly(bytes)
        }
        if json {
            print(String(decoding: try APIJSON.encode(answer), as: UTF8.self))
            return
        }
        print("\(file): \(answer.decision.rawValue) for \(answer.use.rawValue) in \(answer.territory) (verification \(answer.verification_id))")
        for segment in answer.segments {
            let what = segment.track.map { t in
                "track \(t.track_id)\([t.title, t.artist].compactMap { $0 }.isEmpty ? "" : " " + [t.title, t.artist].compactMap { $0 }.joined(separator: " - ")) at \(String(format: "%.2f", t.offset_s)) s"
            } ?? "no catalog recording"
            let action = segment.action.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            print(String(format: "  %7.2f-%7.2f s  ", segment.start_s, segment.end_s) + "\(action)  \(what): \(segment.reason)")
        }
    }

    private func verifyDirectly(_ bytes: [UInt8]) async throws -> VerifyAnswer {
        let configuration = try await DaemonConfiguration.load(file: nil)
        let registry = try self.registry.open()
        defer { registry.close() }
        do {
            let verifier = Verifier(defaultPolicy: configuration.defaultPolicy)
            let audio = try verifier.analysis.decoder.decode(bytes: bytes, source: file)
            var timings = IdentificationTimings()
            return try verifier.verify(audio, audioSHA256: ContentDigest.sha256(bytes), use: Use(rawValue: use) ?? .stream,
                                       territory: territory.uppercased(), at: at.flatMap(RightsFile.parseDate) ?? Date(),
                                       peer: Peer(uid: Int32(bitPattern: getuid()), gid: Int32(bitPattern: getgid()), pid: getpid()),
                                       db: try registry.connect(), timings: &timings)
        } catch {
            throw ValidationFailure("\(file): \(error)")
        }
    }
}
