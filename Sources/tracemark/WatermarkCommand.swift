import ArgumentParser
import Audio
import Daemon
import Foundation
import Registry
import Watermark

struct WatermarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermark",
        abstract: "Issue a watermark: mark a file's audio and record the issuance in the ledger.",
        discussion: """
            Embeds the mark of a new serial with the current mark key, seals the issuance \
            certificate (encrypted to the auditor, signed by the registry) and appends it to the \
            ledger, in one transaction: if anything fails, nothing is recorded and OUT is not \
            written. OUT's extension picks the format: .wav, .flac, .ogg, .opus or .mp3.

            Goes through the daemon when one answers on the socket (the requester recorded is \
            this process's uid, from the socket), otherwise opens the database and the keys in \
            <data-dir>/keys itself. Needs keys: `tracemark keys init`.

            Examples:
              tracemark watermark remix.wav -o remix-marked.wav --purpose "radio edit"
              tracemark watermark cover.flac -o cover.mp3 --source 3:2 --source 17:1 --json
            """)

    @Argument(help: ArgumentHelp("The audio to mark (WAV, FLAC, Ogg Vorbis, Opus, MP3).", valueName: "file"))
    var file: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where the marked audio goes.", valueName: "out"))
    var output: String

    @Option(help: ArgumentHelp("What the audio is released for; recorded in the encrypted payload (at most 1024 bytes).", valueName: "text"))
    var purpose = ""

    @Option(name: .customLong("source"),
            help: ArgumentHelp("A master the audio was made from and the version of the policy that allowed it; repeat for several.", valueName: "track:version"))
    var sources: [String] = []

    @Flag(help: "Print {\"file\", \"output\", \"serial\", \"output_sha256\"} as JSON.")
    var json = false

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup var registry: RegistryOptions

    var format: AudioFileFormat? {
        AudioFileFormat(fileExtension: (output as NSString).pathExtension).flatMap { $0.container == .s16le ? nil : $0 }
    }

    func validate() throws {
        guard format != nil else { throw ValidationError("-o \(output): name the output .wav, .flac, .ogg, .opus or .mp3") }
        guard purpose.utf8.count <= IssuancePayload.maxPurposeBytes else {
            throw ValidationError("--purpose is \(purpose.utf8.count) bytes; at most \(IssuancePayload.maxPurposeBytes)")
        }
        do { _ = try sourceTracks() } catch { throw ValidationError("--source: \(error)") }
    }

    func sourceTracks() throws -> [SourceTrack] {
        try sources.map { item in
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let track = Int64(parts[0]), let version = Int64(parts[1]), track > 0, version > 0 else {
                throw ValidationFailure("'\(item)' is not TRACK:VERSION (a track id and the version of the policy that allowed the use)")
            }
            return SourceTrack(trackID: track, policyVersion: version)
        }
    }

    struct Answer: Encodable {
        let file: String
        let output: String
        let serial: UInt64
        let output_sha256: String
    }

    func run() async throws {
        guard let format else { throw ValidationFailure("-o \(output): unknown format") }
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
            throw ValidationFailure("\(file): cannot read: \(error.localizedDescription)")
        }
        // The output is written to a temporary file next to OUT first (so an unwritable place
        // fails before anything is issued) and renamed into place once the ledger row is committed.
        let partial = output + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: partial, contents: nil) else {
            throw ValidationFailure("\(output): cannot write next to it (\(partial))")
        }
        defer { unlink(partial) }

        let serial: UInt64, marked: [UInt8]
        if let client = daemon.client(registry) {
            (serial, marked) = try await issueThroughDaemon(client, bytes: bytes, format: format)
            do { try Data(marked).write(to: URL(fileURLWithPath: partial)) } catch {
                throw ValidationFailure("\(output): cannot write: \(error.localizedDescription) (watermark \(serial) was issued; its certificate stays in the ledger)")
            }
        } else {
            let configuration: DaemonConfiguration
            do { configuration = try await DaemonConfiguration.load(file: nil) } catch { throw ValidationFailure("\(error)") }
            (serial, marked) = try issueDirectly(bytes: bytes, format: format, partial: partial, maxSeconds: configuration.maxWatermarkSeconds)
        }
        guard rename(partial, output) == 0 else {
            throw ValidationFailure("\(output): cannot rename \(partial) into place: \(String(cString: strerror(errno)))")
        }
        if json {
            print(String(decoding: try APIJSON.encode(Answer(file: file, output: output, serial: serial,
                                                             output_sha256: ContentDigest.hex(ContentDigest.sha256(marked)))), as: UTF8.self))
        } else {
            print("\(output): watermark serial \(serial)")
        }
    }

    private func issueThroughDaemon(_ client: DaemonClient, bytes: [UInt8], format: AudioFileFormat) async throws -> (UInt64, [UInt8]) {
        var target = "/v1/watermarks?output=\(format.container.rawValue)"
        if !purpose.isEmpty { target += "&purpose=" + (purpose.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
        for source in sources { target += "&source=" + (source.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
        let reply = try await client.send(.POST, target, body: bytes, headers: [("Content-Type", "application/octet-stream")])
        guard reply.status == 200 else { throw ValidationFailure("\(file): \(errorMessage(reply)) (HTTP \(reply.status))") }
        guard let serial = reply.header("Tracemark-Serial").flatMap({ UInt64($0) }) else {
            throw ValidationFailure("bad answer from the daemon: no Tracemark-Serial header")
        }
        return (serial, reply.body)
    }

    private func issueDirectly(bytes: [UInt8], format: AudioFileFormat, partial: String, maxSeconds: Double) throws -> (UInt64, [UInt8]) {
        let keys: IssuingKeys
        do { keys = try KeyStore(dataDirectory: registry.resolvedDataDirectory).currentKeys() } catch {
            throw ValidationFailure("\(error)")
        }
        let sources = try sourceTracks()
        return try registry.withDatabase { db in
            let (audio, given) = try AudioDecoder.decodeMultichannel(bytes: bytes, source: file, maxDuration: maxSeconds)
            var format = format
            if format.container == given.container { format.bitDepth = given.bitDepth }
            try AudioWriter.checkEncodable(format, sampleRate: audio.sampleRate, channels: audio.channelCount)
            let issued = try Issuer(keys: keys).issue(
                audio, inputSHA256: ContentDigest.sha256(bytes), purpose: purpose, requesterUID: getuid(), sources: sources, db: db
            ) { marked in
                // Encoded and written inside the transaction: a failed write records nothing.
                let encoded = try AudioWriter.encode(marked, as: format)
                do { try Data(encoded).write(to: URL(fileURLWithPath: partial)) } catch {
                    throw ValidationFailure("\(output): cannot write: \(error.localizedDescription)")
                }
                return encoded
            }
            return (issued.serial, issued.output)
        }
    }
}
