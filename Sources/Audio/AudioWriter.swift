import CSndFile
import Foundation

/// Writes interleaved float audio through libsndfile, the container chosen by the extension:
/// .wav (16-bit PCM), .flac, .ogg (Vorbis), .opus, .mp3.
public enum AudioWriter {
    public static func write(_ interleaved: [Float], sampleRate: Int, channels: Int, to path: String) throws {
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = try format(for: path)
        guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
            throw AudioError.io(path: path, reason: "cannot write: \(String(cString: sf_strerror(nil)))")
        }
        // Clip instead of wrapping when float data goes past full scale.
        sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
        let frames = interleaved.count / max(channels, 1)
        let written = interleaved.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(frames)) }
        let status = sf_close(file)
        guard written == frames, status == 0 else {
            throw AudioError.io(path: path, reason: "incomplete write (\(written) of \(frames) frames)")
        }
    }

    static func format(for path: String) throws -> Int32 {
        switch (path as NSString).pathExtension.lowercased() {
        case "wav": return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case "flac": return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case "ogg", "oga": return Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        case "opus": return Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)
        case "mp3": return Int32(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)
        default: throw AudioError.io(path: path, reason: "unknown extension; write .wav, .flac, .ogg, .opus or .mp3")
        }
    }
}
