import Audio
import Daemon
import Foundation
import Registry
import TestSupport
import Testing
import Watermark

/// The watermark routes end to end: issue through the socket, fetch and open the certificate,
/// detect the mark in the returned audio; and the issuer's all-or-nothing transaction.
@Suite struct WatermarkRouteTests {
    static let seconds = 20.0

    func errorCode(_ reply: DaemonClient.Reply) -> String? {
        (try? JSONDecoder().decode(APIError.Body.self, from: Data(reply.body)))?.error.code
    }

    @Test func issueFetchOpenAndDetect() async throws {
        let url = try TestDatabase.create()
        let ids = try TestCatalog.store(seeds: [101], seconds: 10, databaseURL: url)
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        let song = try GeneratedMusic.stereoWAV(seed: 31, seconds: Self.seconds)

        // No keys yet: the operator has to create them.
        let keyless = try await daemon.call("POST", "/v1/watermarks", route: "/v1/watermarks", body: song)
        #expect(keyless.status == 503 && errorCode(keyless) == "watermark_keys_unavailable", "\(keyless.text)")
        let (keys, auditor) = try daemon.makeKeys()

        let issued = try await daemon.call("POST", "/v1/watermarks?purpose=radio%20edit%20%E2%80%93%20caf%C3%A9&source=\(ids[0]):2",
                                    route: "/v1/watermarks", body: song, headers: [("Content-Type", "audio/wav")])
        try #require(issued.status == 200, "\(issued.text)")
        #expect(issued.header("Content-Type") == "audio/wav")
        let serial = try #require(issued.header("Tracemark-Serial").flatMap { UInt64($0) })
        let (marked, format) = try AudioDecoder.decodeMultichannel(bytes: issued.body, source: "reply")
        #expect(format == AudioFileFormat(.wav) && marked.channelCount == 2 && marked.sampleRate == 44_100)
        #expect(abs(marked.duration - Self.seconds) < 0.001)
        #expect(issued.body != song)

        // The certificate: signed by the registry, readable with the auditor's key only.
        let fetched = try await daemon.call("GET", "/v1/watermarks/\(serial)", route: "/v1/watermarks/{serial}")
        #expect(fetched.status == 200 && fetched.header("Content-Type") == "application/octet-stream")
        let certificate = try Certificate(bytes: fetched.body)
        let payload = try certificate.open(auditorKey: auditor, verifyingKey: keys.signing.publicKey)
        #expect(payload.serial == serial)
        #expect(payload.requesterUID == getuid())
        #expect(payload.purpose == "radio edit – café")
        #expect(payload.sources == [SourceTrack(trackID: Int64(ids[0]), policyVersion: 2)])
        #expect(payload.inputSHA256 == ContentDigest.sha256(song))
        #expect(payload.outputSHA256 == ContentDigest.sha256(issued.body))
        #expect(payload.markKeyID == keys.mark.id && payload.auditorKeyID == auditor.id && payload.signingKeyID == keys.signing.id)
        let stranger = try AuditorPrivateKey.generate()
        #expect(throws: WatermarkError.auditorKeyMismatch(certificate: auditor.id.hex, offered: stranger.id.hex)) {
            _ = try certificate.open(auditorKey: stranger, verifyingKey: keys.signing.publicKey)
        }

        // Detection finds the serial and the ledger row, and every signature verifies.
        let detected = try await daemon.call("POST", "/v1/watermarks/detect", route: "/v1/watermarks/detect", body: issued.body)
        try #require(detected.status == 200, "\(detected.text)")
        let answer = try RunningDaemon.decoder.decode(WatermarkDetectAnswer.self, from: Data(detected.body))
        let row = try #require(try Ledger(PostgresConnection(connectionString: url)).row(serial: serial))
        #expect(answer.found && answer.serial == serial && answer.mark_key_id == keys.mark.id.hex)
        #expect(answer.ledger_row?.serial == serial && answer.ledger_row?.issued_at_ms == row.issuedAtMilliseconds)
        #expect(answer.ledger_row?.previous_sha256 == ContentDigest.hex(LedgerChain.genesis))
        #expect(answer.ledger_row?.signing_key_id == keys.signing.id.hex)
        #expect(answer.ledger_row?.row_sha256 == ContentDigest.hex(row.rowSHA256))
        #expect(answer.signature?.status == .verified && answer.signature?.signing_key == "current", "\(detected.text)")
        #expect(row.certificate == fetched.body)

        // Raw PCM in, FLAC out on request; the second row chains to the first.
        let pcm = try AudioWriter.encode(marked, as: AudioFileFormat(.s16le))
        let second = try await daemon.call("POST", "/v1/watermarks?format=s16le&rate=44100&channels=2&output=flac",
                                    route: "/v1/watermarks", body: pcm)
        try #require(second.status == 200, "\(second.text)")
        #expect(second.header("Content-Type") == "audio/flac")
        #expect(second.header("Tracemark-Serial").flatMap { UInt64($0) } == serial + 1)
        #expect(try AudioDecoder.decodeMultichannel(bytes: second.body, source: "reply").format.container == .flac)
        let rows = try Ledger(PostgresConnection(connectionString: url)).rows()
        #expect(rows.map(\.serial) == [serial, serial + 1] && rows[1].previousSHA256 == rows[0].rowSHA256)
        #expect(LedgerChain.firstBreak(rows, verifyingKeys: [keys.signing.id.hex: keys.signing.publicKey]) == nil)

        // Errors: unknown and malformed serials, unsuitable audio, bad parameters; none writes a row.
        let unknown = try await daemon.call("GET", "/v1/watermarks/\(serial + 40)", route: "/v1/watermarks/{serial}")
        #expect(unknown.status == 404 && errorCode(unknown) == "watermark_not_found")
        let malformed = try await daemon.call("GET", "/v1/watermarks/abc", route: "/v1/watermarks/{serial}")
        #expect(malformed.status == 400 && errorCode(malformed) == "bad_parameter")
        let short = try TestCatalog.wav(GeneratedMusic.track(seed: 5, seconds: 4, sampleRate: TestCatalog.rate))
        let tooShort = try await daemon.call("POST", "/v1/watermarks", route: "/v1/watermarks", body: short)
        #expect(tooShort.status == 400 && errorCode(tooShort) == "unsuitable_audio", "\(tooShort.text)")
        for target in ["/v1/watermarks?source=\(ids[0])", "/v1/watermarks?source=999999:1", "/v1/watermarks?output=aiff",
                       "/v1/watermarks?output=opus"] {
            let refused = try await daemon.call("POST", target, route: "/v1/watermarks", body: song)
            #expect(refused.status == 400 && errorCode(refused) == "bad_parameter", "\(target): \(refused.text)")
        }
        let json = try await daemon.call("POST", "/v1/watermarks", route: "/v1/watermarks", body: Array("{}".utf8),
                                  headers: [("Content-Type", "application/json")])
        #expect(json.status == 415)
        let garbage = try await daemon.call("POST", "/v1/watermarks/detect", route: "/v1/watermarks/detect", body: Array("not audio".utf8))
        #expect(garbage.status == 400 && errorCode(garbage) == "unreadable_audio")
        #expect(try Ledger(PostgresConnection(connectionString: url)).rows().count == 2)
    }

    @Test func unmarkedAudioIsNotFound() async throws {
        let url = try TestDatabase.create()
        let daemon = try await RunningDaemon.start(databaseURL: url)
        defer { Task { await daemon.stop() } }
        _ = try daemon.makeKeys()
        let clip = try GeneratedMusic.stereoWAV(seed: 32, seconds: 10)
        let reply = try await daemon.call("POST", "/v1/watermarks/detect", route: "/v1/watermarks/detect", body: clip)
        #expect(reply.status == 200, "\(reply.text)")
        let answer = try RunningDaemon.decoder.decode(WatermarkDetectAnswer.self, from: Data(reply.body))
        #expect(!answer.found && answer.serial == nil && answer.ledger_row == nil && answer.signature == nil)
    }

    /// A failure inside the issuance (here the encoder) leaves no row, and the next issuance
    /// still chains to the last committed one.
    @Test func aFailedIssuanceWritesNothing() throws {
        let db = try PostgresConnection(connectionString: TestDatabase.create())
        let keys = IssuingKeys(signing: try SigningKey.generate(), mark: try MarkKey.generate(),
                               auditor: try AuditorPrivateKey.generate().publicKey)
        let audio = try AudioDecoder.decodeMultichannel(bytes: GeneratedMusic.stereoWAV(seed: 33, seconds: 9), source: "test").audio
        struct EncoderFailure: Error {}
        let issuer = Issuer(keys: keys)
        #expect(throws: EncoderFailure.self) {
            try issuer.issue(audio, inputSHA256: [UInt8](repeating: 1, count: 32), purpose: "", requesterUID: 0, sources: [], db: db) { _ in
                throw EncoderFailure()
            }
        }
        #expect(try Ledger(db).rows().isEmpty)
        #expect(throws: IssuanceError.self) {
            try issuer.issue(audio, inputSHA256: [UInt8](repeating: 1, count: 32), purpose: "", requesterUID: 0,
                             sources: [SourceTrack(trackID: 12345, policyVersion: 1)], db: db) { _ in [] }
        }
        let issued = try issuer.issue(audio, inputSHA256: [UInt8](repeating: 1, count: 32), purpose: "p", requesterUID: 7, sources: [], db: db) {
            try AudioWriter.encode($0, as: AudioFileFormat(.flac))
        }
        let rows = try Ledger(db).rows()
        #expect(rows.map(\.serial) == [issued.serial] && rows[0].previousSHA256 == LedgerChain.genesis)
        #expect(issued.payload.outputSHA256 == ContentDigest.sha256(issued.output))
        #expect(LedgerChain.firstBreak(rows, verifyingKeys: [keys.signing.id.hex: keys.signing.publicKey]) == nil)
    }
}
