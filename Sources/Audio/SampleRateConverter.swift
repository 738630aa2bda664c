import CSampleRate

/// Whole-signal sample-rate conversion by an arbitrary ratio through libsamplerate, for effects
/// that change speed (varispeed, the resampling half of a pitch shift). Stateless and thread-safe.
public enum SampleRateConverter {
    public enum Quality: Sendable {
        /// SRC_SINC_FASTEST: about 97 dB SNR, 80 % bandwidth.
        case fastest
        /// SRC_SINC_MEDIUM_QUALITY: about 97 dB SNR, 90 % bandwidth, roughly 3x slower.
        case medium

        var converter: Int32 {
            switch self {
            case .fastest: Int32(SRC_SINC_FASTEST)
            case .medium: Int32(SRC_SINC_MEDIUM_QUALITY)
            }
        }
    }

    /// `ratio` is output rate over input rate; the result has `Int((samples.count * ratio).rounded())`
    /// samples, padded with the converter's last output or cut when libsamplerate's count differs by a few.
    public static func convert(_ samples: [Float], ratio: Double, quality: Quality = .fastest) throws -> [Float] {
        guard ratio.isFinite, ratio >= 1.0 / 256, ratio <= 256 else {
            throw AudioError.resampling(reason: "ratio \(ratio) is outside 1/256 to 256")
        }
        let expected = Int((Double(samples.count) * ratio).rounded())
        if samples.isEmpty || expected == 0 { return [] }
        var output = [Float](repeating: 0, count: expected + 64)
        var data = SRC_DATA()
        let status: Int32 = samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                data.data_in = input.baseAddress
                data.input_frames = samples.count
                data.data_out = out.baseAddress
                data.output_frames = out.count
                data.src_ratio = ratio
                data.end_of_input = 1
                return src_simple(&data, quality.converter, 1)
            }
        }
        if status != 0 { throw AudioError.resampling(reason: String(cString: src_strerror(status))) }
        let generated = Int(data.output_frames_gen)
        if generated >= expected { output.removeLast(output.count - expected) } else {
            output.removeLast(output.count - generated)
            output.append(contentsOf: repeatElement(output.last ?? 0, count: expected - generated))
        }
        return output
    }
}
