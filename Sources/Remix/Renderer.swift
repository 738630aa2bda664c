import Audio
import Foundation

/// Applies an edit to a whole recording, operation by operation, in memory. The output keeps the
/// input's channel count and sample rate. Thread-safe: a renderer holds only settings.
public struct Renderer: Sendable {
    public var separator: StemSeparator

    public init(separator: StemSeparator = StemSeparator()) {
        self.separator = separator
    }

    /// `progress` gets the overall fraction done and the name of the operation running. The input is
    /// taken, not copied, when the caller passes it with `consume`.
    public func render(_ edit: Edit, _ input: consuming AudioBuffer, progress: (Double, String) -> Void = { _, _ in }) throws -> AudioBuffer {
        var audio = consume input
        let operations = edit.operations
        let count = max(operations.count, 1)
        var index = 0
        while index < operations.count {
            let operation = operations[index]
            progress(Double(index) / Double(count), operation.name)
            // Consecutive filters (a `filter` then an `eq`, say) run as one cascade: one pass over
            // the recording instead of one each. The only difference is that the signal between
            // them is not rounded to Float.
            var sections: [Biquad] = []
            var next = index
            while next < operations.count, case let .filter(bands) = operations[next] {
                try checkNyquist(bands, operation: operations[next], index: next, sampleRate: audio.sampleRate)
                sections += bands.map { Biquad($0, sampleRate: Double(audio.sampleRate)) }
                next += 1
            }
            if next > index + 1 {
                Biquad.filter(&audio.channels, through: sections)
                index = next
                continue
            }
            try withoutActuallyEscaping(progress) { progress in
                try apply(operation, index: index, to: &audio) { fraction in
                    progress((Double(index) + fraction) / Double(count), operation.name)
                }
            }
            index += 1
        }
        progress(1, "done")
        return audio
    }

    /// A filter's frequencies must be below Nyquist.
    func checkNyquist(_ bands: [FilterBand], operation: EditOperation, index: Int, sampleRate: Int) throws {
        let rate = Double(sampleRate)
        for band in bands where band.frequency >= rate / 2 {
            throw EditError.notApplicable(operation: operation.name, index: index,
                                          reason: "frequency_hz \(band.frequency.formatted) is at or above half the sample rate (\(Int(rate / 2)) Hz)")
        }
    }

    func apply(_ operation: EditOperation, index: Int, to audio: inout AudioBuffer, progress: (Double) -> Void) throws {
        let rate = Double(audio.sampleRate)
        func frames(_ seconds: Double) -> Int { Int((seconds * rate).rounded()) }
        func fail(_ reason: String) -> EditError { .notApplicable(operation: operation.name, index: index, reason: reason) }
        let duration = audio.duration
        // A count, not a copy of the buffer: holding a second reference would make every in-place
        // operation below copy the whole recording first.
        let inputFrames = audio.frameCount
        switch operation {
        case let .trim(start, end):
            guard start < duration else { throw fail(String(format: "start_s %.3f is at or past the end of the %.3f s input", start, duration)) }
            let last = min(frames(end ?? duration), audio.frameCount)
            let first = frames(start)
            guard last > first else { throw fail("the trimmed range is empty") }
            Effects.trim(&audio, start: first, end: last)
            // A cut mid-waveform is a step from silence: 3 ms fades at the ends that were cut.
            let declick = min(frames(0.003), audio.frameCount / 2)
            if first > 0 { Effects.fade(&audio, frames: declick, curve: .sine, out: false) }
            if last < inputFrames { Effects.fade(&audio, frames: declick, curve: .sine, out: true) }
        case let .fadeIn(seconds, curve):
            Effects.fade(&audio, frames: frames(seconds), curve: curve, out: false)
        case let .fadeOut(seconds, curve):
            Effects.fade(&audio, frames: frames(seconds), curve: curve, out: true)
        case let .gain(decibels):
            Effects.gain(&audio, decibels: decibels)
        case let .normalizeLoudness(target):
            let measured = LoudnessMeter.integratedLoudness(audio)
            guard measured.isFinite else { throw fail("the input is silent (below -70 LUFS); there is no loudness to normalise") }
            Effects.gain(&audio, decibels: target - measured)
        case let .filter(bands):
            try checkNyquist(bands, operation: operation, index: index, sampleRate: audio.sampleRate)
            Biquad.filter(&audio.channels, through: bands.map { Biquad($0, sampleRate: rate) })
        case let .compressor(settings):
            Dynamics.compress(&audio, settings)
        case let .limiter(ceiling, release):
            Dynamics.limit(&audio, ceilingDecibels: ceiling, releaseMilliseconds: release)
        case let .saturation(drive, mix):
            Effects.saturate(&audio, driveDecibels: drive, mix: mix)
        case let .bitcrush(bits, sampleRate):
            Effects.bitcrush(&audio, bits: bits, sampleRate: sampleRate)
        case let .chorus(settings):
            Effects.chorus(&audio, settings)
        case let .reverb(settings):
            Reverb.apply(&audio, settings)
        case let .gatedReverb(settings, gate):
            Reverb.gated(&audio, settings, gate)
        case let .wowFlutter(settings):
            Effects.wowFlutter(&audio, settings)
        case let .vinyl(settings):
            Effects.vinyl(&audio, settings)
        case let .speed(ratio):
            // Varispeed: the stretch and the pitch cancel, so no phase changes, only each frame resampled.
            audio = PhaseVocoder.transform(audio, duration: 1 / ratio, pitch: ratio, progress: progress)
        case let .tempo(ratio):
            audio = PhaseVocoder.transform(audio, duration: 1 / ratio, progress: progress)
        case let .pitch(semitones):
            audio = PhaseVocoder.transform(audio, duration: 1, pitch: pow(2, semitones / 12), progress: progress)
        case .reverse:
            Effects.reverse(&audio)
        case let .loop(start, end, count, crossfade):
            let first = frames(start ?? 0), last = min(frames(end ?? duration), audio.frameCount)
            guard first < last else { throw fail(String(format: "the loop range starts at or past the end of the %.3f s input", duration)) }
            Effects.loop(&audio, start: first, end: last, count: count, crossfade: frames(crossfade / 1000))
        case let .isolate(stem):
            guard let result = separator.separate(audio, stems: [stem], progress: progress)[stem] else { return }
            audio = result
        case let .mixStems(gains):
            guard let family = gains.keys.first?.family else { return }
            let parts = separator.separate(audio, stems: Set(family), progress: progress)
            var mixed = [[Float]](repeating: [Float](repeating: 0, count: audio.frameCount), count: audio.channelCount)
            for (stem, part) in parts {
                let g = Float(pow(10, (gains[stem] ?? 0) / 20))
                for c in mixed.indices {
                    for i in mixed[c].indices { mixed[c][i] += g * part.channels[c][i] }
                }
            }
            audio = AudioBuffer(channels: mixed, sampleRate: audio.sampleRate)
        }
    }
}
