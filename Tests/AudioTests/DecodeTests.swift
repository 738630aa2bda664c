import Foundation
import TestSupport
import Testing
@testable import Audio

@Suite struct DecodeTests {
    let directory: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tracemark-audio-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    /// 3 s of a 1 kHz tone, stereo 44.1 kHz, in every format the ingest reads.
    @Test(arguments: ["wav", "flac", "ogg", "opus", "mp3"])
    func decodesToMonoAtTheAnalysisRate(format: String) throws {
        let rate = format == "opus" ? 48000 : 44100 // Opus codes 48 kHz only
        let stereo = GeneratedMusic.tone(frequency: 1000, seconds: 3, sampleRate: rate).flatMap { [$0, $0] }
        let path = directory + "/tone." + format
        try AudioWriter.write(stereo, sampleRate: rate, channels: 2, to: path)
        let decoded = try AudioDecoder(targetSampleRate: 8000).decode(path: path)
        #expect(decoded.sampleRate == 8000)
        #expect(decoded.sourceChannels == 2)
        // Lossy codecs add priming samples; allow 0.1 s either way.
        #expect(abs(decoded.sourceDuration - 3) < 0.1, "\(decoded.sourceDuration)")
        #expect(abs(decoded.duration - decoded.sourceDuration) < 0.01)
        // The tone survives: zero crossings near 2 * 1000 per second in the middle second.
        let middle = decoded.samples[8000..<16000]
        let crossings = zip(middle, middle.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 2000) < 40, "\(crossings) crossings")
    }

    @Test func decodesFromMemoryAndRawPCM() throws {
        let mono = GeneratedMusic.tone(frequency: 500, seconds: 1, sampleRate: 16000)
        let path = directory + "/memory.flac"
        try AudioWriter.write(mono, sampleRate: 16000, channels: 1, to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let decoder = AudioDecoder(targetSampleRate: 8000)
        #expect(try decoder.decode(bytes: bytes, source: "body").samples.count == 8000)

        let pcm = mono.flatMap { sample -> [UInt8] in
            let v = Int16(max(-1, min(1, sample)) * 32767)
            return [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
        }
        let raw = try decoder.decode(bytes: pcm, source: "body", raw: RawPCMFormat(sampleRate: 16000, channels: 1))
        #expect(abs(raw.samples.count - 8000) <= 1)
    }

    @Test func badInputGivesClearErrors() throws {
        let decoder = AudioDecoder(targetSampleRate: 8000)
        let text = directory + "/notes.wav"
        try "these are not samples".write(toFile: text, atomically: true, encoding: .utf8)
        #expect { try decoder.decode(path: text) } throws: { error in
            guard case let .unreadable(source, _) = error as? AudioError else { return false }
            return source == text
        }
        let empty = directory + "/empty.flac"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: AudioError.self) { try decoder.decode(path: empty) }
        #expect(throws: AudioError.empty(source: "body")) { try decoder.decode(bytes: [], source: "body") }
        #expect(throws: AudioError.self) { try decoder.decode(path: directory + "/missing.wav") }

        // A WAV cut off after its header has no samples.
        let whole = directory + "/whole.wav"
        try AudioWriter.write(GeneratedMusic.tone(frequency: 300, seconds: 1, sampleRate: 8000), sampleRate: 8000, channels: 1, to: whole)
        let truncated = directory + "/truncated.wav"
        try Data(contentsOf: URL(fileURLWithPath: whole)).prefix(44).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: AudioError.self) { try decoder.decode(path: truncated) }
    }

    @Test func refusesAbsurdLengths() throws {
        let path = directory + "/long.wav"
        try AudioWriter.write([Float](repeating: 0.1, count: 8000 * 3), sampleRate: 8000, channels: 1, to: path)
        #expect { try AudioDecoder(targetSampleRate: 8000, maxDuration: 2).decode(path: path) } throws: { error in
            if case .tooLong = error as? AudioError { return true }
            return false
        }
    }

    /// Streams whose header does not say how long they are: libsndfile then reports SF_COUNT_MAX
    /// frames, which must be taken as "unknown", not reserved for. Both used to abort the process.
    @Test func streamsOfUnknownLengthDecode() throws {
        let tone = GeneratedMusic.tone(frequency: 500, seconds: 2, sampleRate: 22050)
        let decoder = AudioDecoder(targetSampleRate: 8000, maxDuration: 600)

        // A FLAC written to a pipe: STREAMINFO's 36-bit total-samples field is 0.
        let flac = directory + "/piped.flac"
        try AudioWriter.write(tone, sampleRate: 22050, channels: 1, to: flac)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: flac)))
        #expect(Array(bytes[0..<4]) == Array("fLaC".utf8))
        bytes[21] &= 0xF0
        for i in 22..<26 { bytes[i] = 0 }
        let piped = try decoder.decode(bytes: bytes, source: "piped.flac")
        #expect(abs(piped.sourceDuration - 2) < 0.01, "\(piped.sourceDuration)")
        #expect(try AudioDecoder.decodeMultichannel(bytes: bytes, source: "piped.flac").audio.frameCount == tone.count)

        // An Ogg Vorbis file cut short: whatever decodes is returned, or a clear error.
        let ogg = directory + "/whole.ogg"
        try AudioWriter.write(GeneratedMusic.tone(frequency: 500, seconds: 20, sampleRate: 22050), sampleRate: 22050, channels: 1, to: ogg)
        let cut = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ogg)).prefix(20_000))
        do {
            let partial = try decoder.decode(bytes: cut, source: "cut.ogg")
            #expect(partial.sourceDuration > 0 && partial.sourceDuration < 20)
        } catch let error as AudioError {
            #expect(!error.localizedDescription.isEmpty)
        }
    }

    @Test func sha256MatchesKnownVector() throws {
        #expect(ContentDigest.hex(ContentDigest.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let path = directory + "/abc.txt"
        try "abc".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ContentDigest.sha256(fileAt: path) == ContentDigest.sha256(Array("abc".utf8)))
    }
}

@Suite struct ResamplingTests {
    func rms(_ x: ArraySlice<Float>) -> Double { sqrt(x.reduce(0) { $0 + Double($1 * $1) } / Double(max(x.count, 1))) }

    /// Through decimation and resampling, in-band tones keep their level and frequency, and
    /// content that would alias into the band is removed.
    @Test(arguments: [44100, 48000, 22050, 96000, 11025])
    func toneSurvivesAndAliasesAreRemoved(rate: Int) throws {
        let decoder = AudioDecoder(targetSampleRate: 8000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tm-rs-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let inBand = directory + "/inband.wav", alias = directory + "/alias.wav"
        try AudioWriter.write(GeneratedMusic.tone(frequency: 3000, seconds: 2, sampleRate: rate), sampleRate: rate, channels: 1, to: inBand)
        // 5.5 kHz would fold onto 2.5 kHz at 8 kHz without a low-pass.
        try AudioWriter.write(GeneratedMusic.tone(frequency: 5500, seconds: 2, sampleRate: rate), sampleRate: rate, channels: 1, to: alias)
        let tone = try decoder.decode(path: inBand)
        #expect(abs(tone.samples.count - 16000) <= 2, "\(tone.samples.count) samples")
        let middle = tone.samples[4000..<12000]
        #expect(abs(rms(middle) - 0.5 / 2.squareRoot()) < 0.03, "in-band level \(rms(middle))")
        let crossings = zip(middle, middle.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 6000) < 20, "\(crossings) crossings")
        let aliased = try decoder.decode(path: alias)
        #expect(rms(aliased.samples[4000..<12000]) < 0.01, "alias level \(rms(aliased.samples[4000..<12000]))")
    }
}
