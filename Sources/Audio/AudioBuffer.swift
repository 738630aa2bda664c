/// Audio at its own rate with every channel kept: what editing works on (decoding for analysis
/// goes through `AudioDecoder`, which downmixes). Channels are planar, samples nominally in [-1, 1].
public struct AudioBuffer: Sendable, Equatable {
    /// One array per channel, all of the same length.
    public var channels: [[Float]]
    public var sampleRate: Int

    public init(channels: [[Float]], sampleRate: Int) {
        precondition(!channels.isEmpty, "an audio buffer has at least one channel")
        precondition(channels.allSatisfy { $0.count == channels[0].count }, "channels differ in length")
        self.channels = channels
        self.sampleRate = sampleRate
    }

    public var channelCount: Int { channels.count }
    public var frameCount: Int { channels[0].count }
    public var duration: Double { Double(frameCount) / Double(sampleRate) }

    /// Frames interleaved channel by channel, as files store them.
    public func interleaved() -> [Float] {
        let n = frameCount, c = channelCount
        if c == 1 { return channels[0] }
        var out = [Float](repeating: 0, count: n * c)
        out.withUnsafeMutableBufferPointer { o in
            for (ci, channel) in channels.enumerated() {
                channel.withUnsafeBufferPointer { x in
                    for i in 0..<n { o[i * c + ci] = x[i] }
                }
            }
        }
        return out
    }

    /// Splits interleaved frames into channels; a trailing partial frame is dropped.
    public init(interleaved: [Float], channelCount: Int, sampleRate: Int) {
        precondition(channelCount >= 1)
        let n = interleaved.count / channelCount
        var channels = [[Float]](repeating: [Float](repeating: 0, count: n), count: channelCount)
        interleaved.withUnsafeBufferPointer { x in
            for c in 0..<channelCount {
                channels[c].withUnsafeMutableBufferPointer { out in
                    for i in 0..<n { out[i] = x[i * channelCount + c] }
                }
            }
        }
        self.init(channels: channels, sampleRate: sampleRate)
    }
}

extension AudioWriter {
    /// Writes every channel of `audio`, the container chosen by the extension.
    public static func write(_ audio: AudioBuffer, to path: String) throws {
        try write(audio.interleaved(), sampleRate: audio.sampleRate, channels: audio.channelCount, to: path)
    }
}
