import Audio
import Foundation
import Testing
@testable import Watermark

// MARK: - keys, payload, certificate

private func samplePayload(signing: SigningKey, auditor: AuditorPublicKey, mark: MarkKey) throws -> IssuancePayload {
    IssuancePayload(serial: 1_234_567, issuedAtMilliseconds: 1_767_225_600_123, requesterUID: 1001,
                    purpose: "remix: radio edit – café", sources: [SourceTrack(trackID: 3, policyVersion: 2),
                                                                  SourceTrack(trackID: 17, policyVersion: 5)],
                    inputSHA256: [UInt8](repeating: 0xA1, count: 32), outputSHA256: [UInt8](repeating: 0xB2, count: 32),
                    signingKeyID: signing.id, auditorKeyID: auditor.id, markKeyID: mark.id)
}

@Suite struct PayloadCryptoTests {
    let signing: SigningKey
    let auditor: AuditorPrivateKey
    let markKey: MarkKey

    init() throws {
        signing = try SigningKey.generate()
        auditor = try AuditorPrivateKey.generate()
        markKey = try MarkKey.generate()
    }

    @Test func payloadEncodingRoundTripsAndIsStrict() throws {
        let payload = try samplePayload(signing: signing, auditor: auditor.publicKey, mark: markKey)
        let bytes = try payload.encoded()
        #expect(try IssuancePayload(encoded: bytes) == payload)
        #expect(bytes.count == 1 + 8 + 8 + 4 + 2 + Array(payload.purpose.utf8).count + 2 + 2 * 16 + 2 + 8 + 64 + 24)
        #expect(throws: WatermarkError.self) { try IssuancePayload(encoded: bytes + [0]) }
        #expect(throws: WatermarkError.self) { try IssuancePayload(encoded: Array(bytes.dropLast())) }
        var badVersion = bytes
        badVersion[0] = 9
        #expect(throws: WatermarkError.self) { try IssuancePayload(encoded: badVersion) }
    }

    @Test func replacedSegmentsAndTheVerificationRoundTripAndVersionOnePayloadsStillDecode() throws {
        var payload = try samplePayload(signing: signing, auditor: auditor.publicKey, mark: markKey)
        payload.replacements = [ReplacedSegment(trackID: 17, policyVersion: 5, startMilliseconds: 12_000, endMilliseconds: 22_500)]
        payload.verificationID = 42
        let bytes = try payload.encoded()
        #expect(bytes[0] == 2)
        #expect(try IssuancePayload(encoded: bytes) == payload)
        // Version 1: the same fields without the replacement count and the verification id.
        payload.replacements = []
        payload.verificationID = 0
        var old = try payload.encoded()
        let sourcesEnd = 1 + 8 + 8 + 4 + 2 + Array(payload.purpose.utf8).count + 2 + 2 * 16
        old.removeSubrange(sourcesEnd..<(sourcesEnd + 10))
        old[0] = 1
        #expect(try IssuancePayload(encoded: old) == payload)
    }

    @Test func certificateRoundTrip() throws {
        let payload = try samplePayload(signing: signing, auditor: auditor.publicKey, mark: markKey)
        let certificate = try Certificate.issue(payload, signingKey: signing, auditor: auditor.publicKey)
        let parsed = try Certificate(bytes: certificate.bytes)
        #expect(parsed == certificate)
        #expect(parsed.serial == payload.serial)
        try parsed.verify(with: signing.publicKey)
        #expect(try parsed.open(auditorKey: auditor, verifyingKey: signing.publicKey) == payload)
        // A fresh ephemeral key and nonce every time: the same payload never gives the same bytes.
        let again = try Certificate.issue(payload, signingKey: signing, auditor: auditor.publicKey)
        #expect(again.ephemeralPublicKey != certificate.ephemeralPublicKey)
        #expect(again.ciphertext != certificate.ciphertext)
    }

    @Test func anyFlippedByteFailsVerification() throws {
        let payload = try samplePayload(signing: signing, auditor: auditor.publicKey, mark: markKey)
        let bytes = try Certificate.issue(payload, signingKey: signing, auditor: auditor.publicKey).bytes
        let header = Certificate.headerLength
        // In the serial, the ephemeral key, the nonce, the ciphertext, the tag and the signature.
        for index in [6, 30, 70, header + 3, bytes.count - 64 - 5, bytes.count - 10] {
            var tampered = bytes
            tampered[index] ^= 0x01
            #expect(throws: WatermarkError.signatureInvalid) {
                try Certificate(bytes: tampered).verify(with: signing.publicKey)
            }
            #expect(throws: WatermarkError.signatureInvalid) {
                _ = try Certificate(bytes: tampered).open(auditorKey: auditor, verifyingKey: signing.publicKey)
            }
        }
        var badMagic = bytes
        badMagic[0] ^= 0x20
        #expect(throws: WatermarkError.self) { try Certificate(bytes: badMagic) }
    }

    @Test func wrongKeysFailWithClearErrors() throws {
        let payload = try samplePayload(signing: signing, auditor: auditor.publicKey, mark: markKey)
        let certificate = try Certificate.issue(payload, signingKey: signing, auditor: auditor.publicKey)
        let otherAuditor = try AuditorPrivateKey.generate()
        #expect(throws: WatermarkError.auditorKeyMismatch(certificate: auditor.id.hex, offered: otherAuditor.id.hex)) {
            _ = try certificate.open(auditorKey: otherAuditor, verifyingKey: signing.publicKey)
        }
        let otherSigner = try SigningKey.generate()
        #expect(throws: WatermarkError.signingKeyMismatch(certificate: signing.id.hex, offered: otherSigner.id.hex)) {
            try certificate.verify(with: otherSigner.publicKey)
        }
        // The error tells the auditor what to do.
        let message = WatermarkError.auditorKeyMismatch(certificate: auditor.id.hex, offered: otherAuditor.id.hex).description
        #expect(message.contains(auditor.id.hex) && message.contains("decrypt with"))
    }

    @Test func keysRoundTripThroughPEMAndRaw() throws {
        let signingPEM = try signing.pem()
        #expect(signingPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try SigningKey(pem: signingPEM) == signing)
        #expect(try VerifyingKey(pem: signing.publicKey.pem()) == signing.publicKey)
        #expect(try AuditorPrivateKey(pem: auditor.pem()) == auditor)
        #expect(try AuditorPublicKey(pem: auditor.publicKey.pem()) == auditor.publicKey)
        #expect(try MarkKey(hex: markKey.hex + "\n") == markKey)
        #expect(try SigningKey(rawRepresentation: signing.rawRepresentation).publicKey == signing.publicKey)
        // An X25519 PEM is not an Ed25519 key.
        #expect(throws: WatermarkError.self) { try SigningKey(pem: auditor.pem()) }
        #expect(throws: WatermarkError.self) { try MarkKey(hex: "abcd") }
        #expect(signing.id.hex.count == 16)
        #expect(try KeyID(hex: signing.id.hex) == signing.id)
    }

    @Test func markDecodesToItsSerialAndOnlyWithItsKey() throws {
        let mark = try markKey.mark(serial: 987_654_321)
        #expect(try markKey.serial(of: mark) == 987_654_321)
        #expect(try Mark(bits: mark.bits) == mark)
        #expect(try markKey.mark(serial: 987_654_322).bitErrors(against: mark) > 30)
        let other = try MarkKey.generate()
        #expect(try other.serial(of: mark) == nil)
        var flipped = mark.bytes
        flipped[15] ^= 0x80
        #expect(try markKey.serial(of: Mark(bytes: flipped)) == nil)
    }
}

// MARK: - the mark in the audio

/// Deterministic "music": a chord progression of decaying harmonic notes, a bass line, hi-hat noise
/// bursts and a little room noise, stereo with different panning per voice.
private func generatedMusic(seconds: Double, sampleRate: Int = 44_100, seed: UInt64 = 7) -> AudioBuffer {
    let n = Int(seconds * Double(sampleRate))
    var left = [Float](repeating: 0, count: n), right = [Float](repeating: 0, count: n)
    var random = LayoutRandom(state: seed)
    let chords: [[Double]] = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [-3, 0, 4]]
    let beat = 0.5
    let rate = Double(sampleRate)
    var t0 = 0.0, index = 0
    while t0 < seconds {
        let chord = chords[index % chords.count]
        let start = Int(t0 * rate), end = min(n, Int((t0 + 4 * beat) * rate))
        for (v, semitone) in (chord + [chord[0] - 24]).enumerated() {
            let f = 261.63 * pow(2, semitone / 12)
            let pan = Float(v) / 4
            for i in start..<end {
                let t = Double(i - start) / rate
                let envelope = exp(-1.5 * t) * 0.12
                var s = 0.0
                for h in 1...6 { s += sin(2 * .pi * f * Double(h) * t) / Double(h * h) }
                left[i] += Float(envelope * s) * (1 - pan)
                right[i] += Float(envelope * s) * pan
            }
        }
        for b in 0..<8 { // hi-hat every half beat
            let hs = start + Int(Double(b) * beat / 2 * rate)
            guard hs < n else { break }
            for i in hs..<min(n, hs + Int(0.04 * rate)) {
                let noise = (random.unit() - 0.5) * 0.2 * Float(exp(-Double(i - hs) / (0.01 * rate)))
                left[i] += noise
                right[i] += noise * 0.8
            }
        }
        t0 += 4 * beat
        index += 1
    }
    for i in 0..<n {
        let hiss = (random.unit() - 0.5) * 0.002
        left[i] += hiss
        right[i] += hiss
    }
    return AudioBuffer(channels: [left, right], sampleRate: sampleRate)
}

private func excerpt(_ audio: AudioBuffer, from start: Double, seconds: Double) -> AudioBuffer {
    let a = Int(start * Double(audio.sampleRate)), b = min(audio.frameCount, a + Int(seconds * Double(audio.sampleRate)))
    return AudioBuffer(channels: audio.channels.map { Array($0[a..<b]) }, sampleRate: audio.sampleRate)
}

@Suite struct MarkInAudioTests {
    static let key = try! MarkKey(hex: String(repeating: "5a", count: 32))
    static let serial: UInt64 = 4_242_4242

    @Test func convolutionalCodeCorrectsErrors() throws {
        var random = LayoutRandom(state: 3)
        let bits = (0..<128).map { _ in UInt8(random.next() & 1) }
        let coded = ConvolutionalCode.encode(bits)
        #expect(coded.count == 402)
        var soft = coded.map { $0 == 1 ? Float(1) : -1 }
        for i in stride(from: 0, to: soft.count, by: 9) { soft[i] = -soft[i] } // 11 % hard errors
        #expect(ConvolutionalCode.decode(soft, bitCount: 128) == bits)
    }

    @Test func listDecodingFindsTheWordTheLikeliestPathMisses() throws {
        var random = LayoutRandom(state: 9)
        var misses = 0, rescued = 0
        for _ in 0..<12 {
            let bits = (0..<128).map { _ in UInt8(random.next() & 1) }
            // Noisy soft values: ±1 plus uniform noise wide enough for frequent decoding errors.
            let soft = ConvolutionalCode.encode(bits).map { ($0 == 1 ? Float(1) : -1) + 4.2 * (random.unit() - 0.5) }
            let list = ConvolutionalCode.decodeList(soft, bitCount: 128, listSize: 8)
            #expect(list.first == ConvolutionalCode.decode(soft, bitCount: 128))
            #expect(Set(list.map { $0.map(String.init).joined() }).count == list.count)
            if list.first != bits {
                misses += 1
                if list.contains(bits) { rescued += 1 }
            }
        }
        #expect(misses > 0)
        #expect(rescued > 0)
    }

    @Test func listDecodingRanksWordsByTheirMetric() throws {
        // The list is merged from sorted predecessor lists: each word must correlate with the soft
        // values no better than the one before it, and the first best of all.
        var random = LayoutRandom(state: 21)
        let bits = (0..<128).map { _ in UInt8(random.next() & 1) }
        let soft = ConvolutionalCode.encode(bits).map { ($0 == 1 ? Float(1) : -1) + 4 * (random.unit() - 0.5) }
        func metric(_ word: [UInt8]) -> Float {
            zip(ConvolutionalCode.encode(word), soft).reduce(0) { $0 + ($1.0 == 1 ? $1.1 : -$1.1) }
        }
        let list = ConvolutionalCode.decodeList(soft, bitCount: 128, listSize: 16)
        #expect(list.count == 16)
        for (a, b) in zip(list, list.dropFirst()) { #expect(metric(a) >= metric(b) - 1e-3) }
        var flipped = list[0]
        flipped[60] ^= 1
        #expect(metric(list[0]) > metric(flipped))
    }

    @Test func markSurvivesAnMP3RoundTripOfAnExcerpt() throws {
        let music = generatedMusic(seconds: 24)
        let (marked, report) = try Watermark.embed(serial: Self.serial, key: Self.key, into: music)
        #expect(report.signalToWatermarkDB >= 30)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("marked.mp3").path
        try AudioWriter.write(excerpt(marked, from: 5.37, seconds: 15), to: path)
        let decoded = try AudioDecoder.decodeMultichannel(path: path)
        let detection = try WatermarkDetector(markKeys: [try MarkKey.generate(), Self.key], maxSpeedChange: 0.004).detect(decoded)
        #expect(detection.serial == Self.serial)
        #expect(detection.markKeyID == Self.key.id)
    }

    @Test func markSurvivesSpeedChangeAndMonoDownmix() throws {
        let music = generatedMusic(seconds: 22, seed: 11)
        let (marked, _) = try Watermark.embed(serial: Self.serial, key: Self.key, into: music)
        let clip = excerpt(marked, from: 2.71, seconds: 15)
        let mono = zip(clip.channels[0], clip.channels[1]).map { ($0 + $1) / 2 }
        // Played 2 % faster: fewer samples at the same rate.
        let faster = try SampleRateConverter.convert(mono, ratio: 1 / 1.02)
        let detection = try WatermarkDetector(markKeys: [Self.key]).detect(mono: faster, sampleRate: clip.sampleRate)
        #expect(detection.serial == Self.serial)
        #expect(abs(detection.speed - 1.02) < 0.0025)
    }

    @Test func bandResamplerKeepsTheMarkBandAndRejectsAliases() throws {
        func tone(_ frequency: Double, rate: Int, seconds: Double = 1) -> [Float] {
            (0..<Int(seconds * Double(rate))).map { Float(sin(2 * .pi * frequency * Double($0) / Double(rate))) }
        }
        func rms(_ x: [Float]) -> Double {
            let middle = x[(x.count / 4)..<(3 * x.count / 4)] // away from the edges
            return (middle.reduce(0) { $0 + Double($1 * $1) } / Double(middle.count)).squareRoot()
        }
        let down = try #require(BandResampler(from: 44_100, to: 16_000))
        let up = try #require(BandResampler(from: 16_000, to: 44_100))
        // 250 Hz - 3.75 kHz pass at unit gain both ways.
        for frequency in [250.0, 1_000, 3_750] {
            let passed = down.convert(tone(frequency, rate: 44_100))
            #expect(passed.count == 16_000)
            #expect(abs(20 * log10(rms(passed) / 0.7071)) < 0.1)
            #expect(abs(20 * log10(rms(up.convert(tone(frequency, rate: 16_000))) / 0.7071)) < 0.1)
        }
        // 13 kHz would fold onto 3 kHz at 16 kHz: it must be gone.
        #expect(20 * log10(rms(down.convert(tone(13_000, rate: 44_100))) / 0.7071) < -50)
    }

    @Test func noMarkInUnmarkedAudio() throws {
        for seed in [1, 2] as [UInt64] {
            let music = generatedMusic(seconds: 15, seed: seed)
            let detection = try WatermarkDetector(markKeys: [Self.key]).detect(music)
            #expect(!detection.isFound)
            #expect(detection.serial == nil)
        }
    }
}
