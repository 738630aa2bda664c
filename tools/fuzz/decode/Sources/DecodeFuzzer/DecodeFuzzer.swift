import Audio

/// One libFuzzer input: the bytes of a request body, decoded the ways the daemon decodes bodies.
///
/// - `AudioDecoder.decode(bytes:source:)`, mono at the analysis rate with `match.maxQuerySeconds`
///   (600 s): what `/v1/match` and `/v1/verify` run (8 kHz), and `/v1/watermarks/detect` (16 kHz,
///   900 s). Inputs of even length take the first, odd lengths the second, so that each input
///   always takes the same path.
/// - `AudioDecoder.decodeMultichannel(bytes:source:maxDuration:)` with `watermark.maxSeconds`
///   (900 s): what `/v1/watermarks` and `/v1/remix` run (`decodeForRelease`).
///
/// Errors are the expected outcome for most inputs; a few source frames may decimate to no
/// output samples at all, which is not an error of the decoder's (the routes decide about length). A crash, a sanitizer report, a hang
/// (`-timeout`) or an allocation over the limits (`-rss_limit_mb`, `-malloc_limit_mb`) is a bug;
/// so is a result that breaks what the decoder promises, checked below.
@_cdecl("LLVMFuzzerTestOneInput")
public func decodeFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let analysis = size % 2 == 0
        ? AudioDecoder(targetSampleRate: 8000, maxDuration: 600)
        : AudioDecoder(targetSampleRate: 16_000, maxDuration: 900)
    if let audio = try? analysis.decode(bytes: bytes, source: "fuzz input") {
        check(audio.sampleRate == analysis.targetSampleRate, "decode: output rate \(audio.sampleRate)")
        check((1...AudioDecoder.maxChannels).contains(audio.sourceChannels), "decode: \(audio.sourceChannels) source channels")
        check(audio.sourceDuration <= analysis.maxDuration + 1, "decode: \(audio.sourceDuration) s over \(analysis.maxDuration) s")
        check(audio.samples.allSatisfy(\.isFinite), "decode: non-finite samples")
    }
    let maxSeconds = 900.0
    if let (buffer, _) = try? AudioDecoder.decodeMultichannel(bytes: bytes, source: "fuzz input", maxDuration: maxSeconds) {
        check((1...AudioDecoder.maxChannels).contains(buffer.channelCount), "decodeMultichannel: \(buffer.channelCount) channels")
        check(buffer.duration <= maxSeconds + 1, "decodeMultichannel: \(buffer.duration) s over \(maxSeconds) s")
        check(buffer.frameCount > 0, "decodeMultichannel: no frames but no error")
        check(buffer.channels.allSatisfy { $0.count == buffer.frameCount && $0.allSatisfy(\.isFinite) },
              "decodeMultichannel: ragged or non-finite channels")
    }
    return 0
}

/// A broken promise of the decoder: stop here so that libFuzzer saves the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("decoder invariant broken: \(message())") }
}
