import CSampleRate
import CSndFile
import Foundation

/// Decodes WAV, FLAC, Ogg Vorbis, Opus and MP3 (whatever the system libsndfile reads) into mono
/// at the analysis rate. Reads in blocks and downmixes, decimates and resamples as it goes, so
/// memory stays proportional to the output, not to the source's channels and rate. The output
/// is band-limited to 0.47 times the target rate.
public struct AudioDecoder: Sendable {
    public var targetSampleRate: Int
    /// Longest input accepted, in seconds: refuses absurd lengths before allocating for them.
    public var maxDuration: Double
    /// Most channels accepted.
    public static let maxChannels = 64

    public init(targetSampleRate: Int, maxDuration: Double = 4 * 3600) {
        self.targetSampleRate = targetSampleRate
        self.maxDuration = maxDuration
    }

    public func decode(path: String) throws -> DecodedAudio {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.unreadable(source: path, reason: Self.lastError(nil))
        }
        defer { sf_close(file) }
        return try read(file, info: info, source: path)
    }

    /// Decodes an in-memory file (any container libsndfile reads) or, with `raw`, headerless
    /// signed 16-bit little-endian PCM.
    public func decode(bytes: [UInt8], source: String, raw: RawPCMFormat? = nil) throws -> DecodedAudio {
        if bytes.isEmpty { throw AudioError.empty(source: source) }
        var info = SF_INFO()
        if let raw {
            guard (1...Self.maxChannels).contains(raw.channels), (1000...768_000).contains(raw.sampleRate) else {
                throw AudioError.unsupportedLayout(source: source, reason: "raw PCM needs 1-\(Self.maxChannels) channels and a rate of 1000-768000 Hz")
            }
            info.samplerate = Int32(raw.sampleRate)
            info.channels = Int32(raw.channels)
            info.format = Int32(SF_FORMAT_RAW | SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE)
        }
        let memory = MemoryFile(bytes)
        var io = MemoryFile.virtualIO
        let context = Unmanaged.passUnretained(memory).toOpaque()
        return try withExtendedLifetime(memory) {
            guard let file = sf_open_virtual(&io, Int32(SFM_READ), &info, context) else {
                throw AudioError.unreadable(source: source, reason: Self.lastError(nil))
            }
            defer { sf_close(file) }
            return try read(file, info: info, source: source)
        }
    }

    /// Audio already in memory (a rendered remix) as the analysis sees a file: mono at the target
    /// rate, band-limited the same way.
    public func analyse(_ audio: AudioBuffer) throws -> DecodedAudio {
        let rate = audio.sampleRate
        let decimator = Decimator(inputRate: rate, targetRate: targetSampleRate, passband: 0.47 * Double(targetSampleRate))
        let decimatedRate = rate / (decimator?.factor ?? 1)
        let resampler = decimatedRate == targetSampleRate ? nil : try Resampler(from: decimatedRate, to: targetSampleRate)
        var mono = [Float](repeating: 0, count: audio.frameCount)
        let scale = 1 / Float(max(audio.channelCount, 1))
        for channel in audio.channels {
            for i in mono.indices { mono[i] += channel[i] * scale }
        }
        var output = decimator.map { $0.process(mono[...], final: true) } ?? mono
        if let resampler { output = try resampler.process(output, final: true) }
        for i in output.indices where !output[i].isFinite { output[i] = 0 }
        return DecodedAudio(samples: output, sampleRate: targetSampleRate, sourceSampleRate: rate,
                            sourceChannels: audio.channelCount, sourceDuration: audio.duration)
    }

    /// Decodes and discards: the decoding floor that ingest speed is measured against.
    public static func decodeOnly(path: String) throws -> (frames: Int, sampleRate: Int, channels: Int) {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.unreadable(source: path, reason: lastError(nil))
        }
        defer { sf_close(file) }
        let channels = Int(info.channels)
        var block = [Float](repeating: 0, count: 8192 * max(channels, 1))
        var frames = 0
        while true {
            let n = block.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, 8192) }
            if n <= 0 { break }
            frames += Int(n)
        }
        return (frames, Int(info.samplerate), channels)
    }

    private func read(_ file: OpaquePointer, info: SF_INFO, source: String) throws -> DecodedAudio {
        let channels = Int(info.channels)
        let rate = Int(info.samplerate)
        let maxFrames = try Self.checkLayout(info, source: source, maxDuration: maxDuration)
        // Integer decimation first (cheap), then libsamplerate for what remains of the ratio.
        let decimator = Decimator(inputRate: rate, targetRate: targetSampleRate, passband: 0.47 * Double(targetSampleRate))
        let decimatedRate = rate / (decimator?.factor ?? 1)
        let resampler = decimatedRate == targetSampleRate ? nil : try Resampler(from: decimatedRate, to: targetSampleRate)
        var mono = [Float](repeating: 0, count: Self.blockFrames)
        var output: [Float] = []
        output.reserveCapacity(Int(Double(Self.framesToReserve(info, maxFrames: maxFrames, channels: 1)) * Double(targetSampleRate) / Double(rate)) + 1024)
        let framesRead = try Self.readBlocks(file, info: info, source: source, maxFrames: maxFrames, maxDuration: maxDuration) { block, n in
            Self.downmix(block, channels: channels, frames: n, into: &mono)
            let reduced = decimator.map { $0.process(mono[0..<n]) } ?? Array(mono[0..<n])
            output.append(contentsOf: try resampler?.process(reduced, final: false) ?? reduced)
        }
        let tail = decimator?.process([], final: true) ?? []
        output.append(contentsOf: try resampler?.process(tail, final: true) ?? tail)
        // Non-finite samples (corrupt float WAVs) would poison every later sum.
        for i in output.indices where !output[i].isFinite { output[i] = 0 }
        return DecodedAudio(samples: output, sampleRate: targetSampleRate, sourceSampleRate: rate,
                            sourceChannels: channels, sourceDuration: Double(framesRead) / Double(rate))
    }

    static let blockFrames = 16384

    /// Reads the file block by block (interleaved frames, `n` of them), refusing more than
    /// `maxFrames` as it goes and an empty or failing stream at the end; returns the frames read.
    @discardableResult
    static func readBlocks(_ file: OpaquePointer, info: SF_INFO, source: String, maxFrames: Int, maxDuration: Double,
                           _ body: (_ block: [Float], _ n: Int) throws -> Void) throws -> Int {
        var block = [Float](repeating: 0, count: blockFrames * Int(info.channels))
        var framesRead = 0
        while true {
            let n = Int(block.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(blockFrames)) })
            if n <= 0 { break }
            framesRead += n
            if framesRead > maxFrames {
                throw AudioError.tooLong(source: source, seconds: Double(framesRead) / Double(info.samplerate), limit: maxDuration)
            }
            try body(block, n)
        }
        if sf_error(file) != 0 { throw AudioError.unreadable(source: source, reason: lastError(file)) }
        if framesRead == 0 { throw AudioError.empty(source: source) }
        return framesRead
    }

    /// Refuses channel counts, rates and declared lengths no real recording has, before anything
    /// is allocated for them; returns the most frames `maxDuration` allows.
    static func checkLayout(_ info: SF_INFO, source: String, maxDuration: Double) throws -> Int {
        let channels = Int(info.channels), rate = Int(info.samplerate)
        guard (1...maxChannels).contains(channels) else {
            throw AudioError.unsupportedLayout(source: source, reason: "\(channels) channels (at most \(maxChannels) are read)")
        }
        guard rate >= 1000, rate <= 768_000 else {
            throw AudioError.unsupportedLayout(source: source, reason: "sample rate \(rate) Hz is outside 1000-768000 Hz")
        }
        let maxFrames = Int(maxDuration * Double(rate))
        if info.frames > maxFrames, info.frames < Int64(Int32.max) * 1024 {
            throw AudioError.tooLong(source: source, seconds: Double(info.frames) / Double(rate), limit: maxDuration)
        }
        return maxFrames
    }

    /// Samples worth reserving before reading, across all channels: a header's length is only a
    /// claim (libsndfile reports SF_COUNT_MAX when it cannot tell, and a few bytes can claim hours),
    /// so at most the declared length within `maxFrames`, and never more than `reservationBudget`
    /// samples in all; beyond that the buffers grow as frames actually arrive.
    static func framesToReserve(_ info: SF_INFO, maxFrames: Int, channels: Int) -> Int {
        guard info.frames > 0, info.frames <= Int64(maxFrames) else { return 0 }
        return min(Int(info.frames), reservationBudget / max(channels, 1))
    }

    /// 16 Mi samples (64 MB of Float): about 3 minutes of stereo at 44.1 kHz.
    static let reservationBudget = 1 << 24

    private static func downmix(_ interleaved: [Float], channels: Int, frames: Int, into mono: inout [Float]) {
        if channels == 1 {
            for i in 0..<frames { mono[i] = interleaved[i] }
            return
        }
        let scale = 1 / Float(channels)
        for i in 0..<frames {
            var sum: Float = 0
            let base = i * channels
            for c in 0..<channels { sum += interleaved[base + c] }
            mono[i] = sum * scale
        }
    }

    static func lastError(_ file: OpaquePointer?) -> String {
        String(cString: sf_strerror(file))
    }
}


/// Versions of the C libraries this module links, for `tracemark doctor`.
public enum AudioLibraries {
    public static var sndfile: String { String(cString: sf_version_string()) }
    public static var samplerate: String { String(cString: src_get_version()) }
}
