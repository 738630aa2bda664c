import CSndFile
import Foundation

/// A container and sample format that audio arrives in or is written as: what lets a service hand
/// back audio "in the same format" it was given.
public struct AudioFileFormat: Sendable, Equatable, CustomStringConvertible {
    public enum Container: String, Sendable, CaseIterable {
        case wav, flac, ogg, opus, mp3
        /// Headerless signed 16-bit little-endian PCM.
        case s16le
    }

    public var container: Container
    /// Bits per sample for WAV and FLAC (16 or 24; 32 is float WAV); ignored for the others.
    public var bitDepth: Int

    public init(_ container: Container, bitDepth: Int = 16) {
        self.container = container
        self.bitDepth = container == .wav ? ([16, 24, 32].contains(bitDepth) ? bitDepth : 16)
            : container == .flac ? ([16, 24].contains(bitDepth) ? bitDepth : 16) : 16
    }

    /// The format for a file name's extension (.wav, .flac, .ogg/.oga, .opus, .mp3, .raw/.pcm), or nil.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "wav", "wave": self.init(.wav)
        case "flac": self.init(.flac)
        case "ogg", "oga": self.init(.ogg)
        case "opus": self.init(.opus)
        case "mp3": self.init(.mp3)
        case "raw", "pcm", "s16le": self.init(.s16le)
        default: return nil
        }
    }

    /// The HTTP media type of a file in this format.
    public var mediaType: String {
        switch container {
        case .wav: "audio/wav"
        case .flac: "audio/flac"
        case .ogg, .opus: "audio/ogg"
        case .mp3: "audio/mpeg"
        case .s16le: "application/octet-stream"
        }
    }

    public var description: String {
        container == .wav || container == .flac ? "\(container.rawValue) (\(bitDepth == 32 ? "float" : "\(bitDepth)-bit"))" : container.rawValue
    }

    /// libsndfile's format word.
    var sndfileFormat: Int32 {
        switch container {
        case .wav: Int32(SF_FORMAT_WAV) | (bitDepth == 24 ? Int32(SF_FORMAT_PCM_24) : bitDepth == 32 ? Int32(SF_FORMAT_FLOAT) : Int32(SF_FORMAT_PCM_16))
        case .flac: Int32(SF_FORMAT_FLAC) | (bitDepth == 24 ? Int32(SF_FORMAT_PCM_24) : Int32(SF_FORMAT_PCM_16))
        case .ogg: Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        case .opus: Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)
        case .mp3: Int32(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)
        case .s16le: Int32(SF_FORMAT_RAW | SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE)
        }
    }

    /// The format libsndfile reports for an opened file; WAV-like containers it reads but this
    /// type does not write (AIFF, CAF, ...) come back as 16-bit WAV.
    init(sndfileFormat format: Int32) {
        let major = format & Int32(SF_FORMAT_TYPEMASK), sub = format & Int32(SF_FORMAT_SUBMASK)
        let depth = sub == Int32(SF_FORMAT_PCM_24) ? 24 : (sub == Int32(SF_FORMAT_FLOAT) || sub == Int32(SF_FORMAT_DOUBLE) || sub == Int32(SF_FORMAT_PCM_32)) ? 32 : 16
        switch major {
        case Int32(SF_FORMAT_FLAC): self.init(.flac, bitDepth: depth)
        case Int32(SF_FORMAT_OGG): self.init(sub == Int32(SF_FORMAT_OPUS) ? .opus : .ogg)
        case Int32(SF_FORMAT_MPEG): self.init(.mp3)
        case Int32(SF_FORMAT_RAW): self.init(.s16le)
        default: self.init(.wav, bitDepth: depth)
        }
    }
}

extension AudioDecoder {
    /// Decodes an in-memory file (or, with `raw`, headerless s16le PCM) with every channel at its
    /// own rate, and says which format it was in. `maxDuration` (seconds) is checked before and
    /// while reading.
    public static func decodeMultichannel(bytes: [UInt8], source: String, raw: RawPCMFormat? = nil,
                                          maxDuration: Double = 4 * 3600) throws -> (audio: AudioBuffer, format: AudioFileFormat) {
        if bytes.isEmpty { throw AudioError.empty(source: source) }
        var info = SF_INFO()
        if let raw {
            guard (1...maxChannels).contains(raw.channels), (1000...768_000).contains(raw.sampleRate) else {
                throw AudioError.unsupportedLayout(source: source, reason: "raw PCM needs 1-\(maxChannels) channels and a rate of 1000-768000 Hz")
            }
            info.samplerate = Int32(raw.sampleRate)
            info.channels = Int32(raw.channels)
            info.format = AudioFileFormat(.s16le).sndfileFormat
        }
        let memory = MemoryFile(bytes)
        var io = MemoryFile.virtualIO
        return try withExtendedLifetime(memory) {
            guard let file = sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(memory).toOpaque()) else {
                throw AudioError.unreadable(source: source, reason: lastError(nil))
            }
            defer { sf_close(file) }
            return (try readChannels(file, info: info, source: source, maxDuration: maxDuration), AudioFileFormat(sndfileFormat: info.format))
        }
    }
}

extension AudioWriter {
    /// Refuses a format that cannot hold audio of this rate and channel count (Opus takes 8, 12,
    /// 16, 24 or 48 kHz only, MP3 at most 2 channels).
    public static func checkEncodable(_ format: AudioFileFormat, sampleRate: Int, channels: Int) throws {
        var info = SF_INFO()
        info.samplerate = Int32(clamping: sampleRate)
        info.channels = Int32(clamping: channels)
        info.format = format.sndfileFormat
        let opusRates = [8000, 12000, 16000, 24000, 48000]
        guard sf_format_check(&info) == SF_TRUE, format.container != .opus || opusRates.contains(sampleRate),
              format.container != .mp3 || channels <= 2 else {
            throw AudioError.io(path: "\(format) output", reason: "\(format) cannot hold \(channels) channel\(channels == 1 ? "" : "s") at \(sampleRate) Hz")
        }
    }

    /// The bytes of a file holding `audio` in `format` (samples past full scale are clipped).
    public static func encode(_ audio: AudioBuffer, as format: AudioFileFormat) throws -> [UInt8] {
        try checkEncodable(format, sampleRate: audio.sampleRate, channels: audio.channelCount)
        var info = SF_INFO()
        info.samplerate = Int32(audio.sampleRate)
        info.channels = Int32(audio.channelCount)
        info.format = format.sndfileFormat
        let what = "\(format) output"
        let memory = MemoryFile([])
        var io = MemoryFile.virtualIO
        return try withExtendedLifetime(memory) {
            guard let file = sf_open_virtual(&io, Int32(SFM_WRITE), &info, Unmanaged.passUnretained(memory).toOpaque()) else {
                throw AudioError.io(path: what, reason: "cannot encode: \(String(cString: sf_strerror(nil)))")
            }
            sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
            let interleaved = audio.interleaved()
            let frames = audio.frameCount
            let written = interleaved.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(frames)) }
            let status = sf_close(file)
            guard written == frames, status == 0 else {
                throw AudioError.io(path: what, reason: "incomplete encode (\(written) of \(frames) frames)")
            }
            return memory.bytes
        }
    }
}

/// A growable in-memory file for libsndfile's virtual I/O (reading and writing), for every decode
/// and encode of bytes in memory. The callbacks receive it as `user_data`.
final class MemoryFile {
    var bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> MemoryFile {
        Unmanaged<MemoryFile>.fromOpaque(pointer!).takeUnretainedValue()
    }

    static let virtualIO = SF_VIRTUAL_IO(
        get_filelen: { sf_count_t(MemoryFile.from($0).bytes.count) },
        seek: { offset, whence, user in
            let file = MemoryFile.from(user)
            let base: Int
            switch whence {
            case SEEK_CUR: base = file.position
            case SEEK_END: base = file.bytes.count
            default: base = 0
            }
            file.position = max(base + Int(offset), 0)
            return sf_count_t(file.position)
        },
        read: { destination, count, user in
            let file = MemoryFile.from(user)
            let n = min(Int(count), file.bytes.count - file.position)
            guard n > 0, let destination else { return 0 }
            file.bytes.withUnsafeBytes { source in
                destination.copyMemory(from: source.baseAddress! + file.position, byteCount: n)
            }
            file.position += n
            return sf_count_t(n)
        },
        write: { source, count, user in
            let file = MemoryFile.from(user)
            let n = Int(count)
            guard n > 0, let source else { return 0 }
            let end = file.position + n
            if end > file.bytes.count { file.bytes.append(contentsOf: repeatElement(0, count: end - file.bytes.count)) }
            file.bytes.withUnsafeMutableBytes { target in
                (target.baseAddress! + file.position).copyMemory(from: source, byteCount: n)
            }
            file.position = end
            return sf_count_t(n)
        },
        tell: { sf_count_t(MemoryFile.from($0).position) }
    )
}
