import CSndFile
import Foundation

extension AudioDecoder {
    /// Decodes every channel at the file's own rate, for editing rather than analysis: no downmix,
    /// no resampling. `maxDuration` (seconds) is checked before and while reading.
    public static func decodeMultichannel(path: String, maxDuration: Double = 4 * 3600) throws -> AudioBuffer {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.unreadable(source: path, reason: lastError(nil))
        }
        defer { sf_close(file) }
        return try readChannels(file, info: info, source: path, maxDuration: maxDuration)
    }

    /// Every channel of an open file, deinterleaved, at its own rate.
    static func readChannels(_ file: OpaquePointer, info: SF_INFO, source: String, maxDuration: Double) throws -> AudioBuffer {
        let channelCount = Int(info.channels)
        let maxFrames = try checkLayout(info, source: source, maxDuration: maxDuration)
        var channels = [[Float]](repeating: [], count: channelCount)
        let expected = framesToReserve(info, maxFrames: maxFrames, channels: channelCount)
        for c in 0..<channelCount { channels[c].reserveCapacity(expected) }
        try readBlocks(file, info: info, source: source, maxFrames: maxFrames, maxDuration: maxDuration) { block, n in
            for c in 0..<channelCount {
                for i in 0..<n {
                    let v = block[i * channelCount + c]
                    // Non-finite samples (corrupt float files) would poison every later sum.
                    channels[c].append(v.isFinite ? v : 0)
                }
            }
        }
        return AudioBuffer(channels: channels, sampleRate: Int(info.samplerate))
    }
}
