import CSampleRate

/// Streaming sample-rate converter over libsamplerate (band-limited sinc, "fastest" quality:
/// ample for fingerprinting, several hundred times realtime).
/// Not thread-safe: one instance per stream.
final class Resampler {
    private let state: OpaquePointer
    private let ratio: Double

    init(from sourceRate: Int, to targetRate: Int) throws {
        var error: Int32 = 0
        guard let state = src_new(Int32(SRC_SINC_FASTEST), 1, &error) else {
            throw AudioError.resampling(reason: String(cString: src_strerror(error)))
        }
        self.state = state
        self.ratio = Double(targetRate) / Double(sourceRate)
    }

    deinit { src_delete(state) }

    /// Feeds mono input; converted samples are appended to the result.
    func process(_ input: [Float], final: Bool) throws -> [Float] {
        var produced: [Float] = []
        var offset = 0
        let outCapacity = Int(Double(input.count) * ratio) + 256
        var chunk = [Float](repeating: 0, count: outCapacity)
        repeat {
            var data = SRC_DATA()
            let (used, generated): (Int, Int) = try input.withUnsafeBufferPointer { inBuf in
                try chunk.withUnsafeMutableBufferPointer { outBuf in
                    data.data_in = inBuf.baseAddress.map { $0 + offset }
                    data.input_frames = Int(input.count - offset)
                    data.data_out = outBuf.baseAddress
                    data.output_frames = Int(outBuf.count)
                    data.end_of_input = final ? 1 : 0
                    data.src_ratio = ratio
                    let status = src_process(state, &data)
                    if status != 0 { throw AudioError.resampling(reason: String(cString: src_strerror(status))) }
                    return (Int(data.input_frames_used), Int(data.output_frames_gen))
                }
            }
            produced.append(contentsOf: chunk[0..<generated])
            offset += used
            // At end of input the converter drains its delay line over several calls.
            if offset >= input.count && (!final || generated == 0) { break }
        } while true
        return produced
    }
}
