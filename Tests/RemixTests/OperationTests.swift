import Audio
import Foundation
import Testing
@testable import Remix

@Suite struct OperationTests {
    let rate = 44100

    func render(_ operations: [EditOperation], _ audio: AudioBuffer) throws -> AudioBuffer {
        try Renderer().render(Edit(operations: operations), audio)
    }

    @Test func trimFadeGainReverse() throws {
        let x = Signals.sine(200, seconds: 4)
        let audio = Signals.stereo(x)
        let trimmed = try render([.trim(start: 1, end: 3)], audio)
        #expect(trimmed.frameCount == 2 * rate)
        #expect(trimmed.channels[0][1000] == x[rate + 1000])
        #expect(trimmed.channels[0][0] == 0) // declicked cut
        let faded = try render([.fadeIn(duration: 1, curve: .linear), .fadeOut(duration: 1, curve: .sine)], audio)
        #expect(faded.channels[0][0] == 0 && faded.channels[0].last == 0)
        #expect(faded.channels[0][2 * rate] == x[2 * rate])
        #expect(abs(Signals.rms(faded.channels[0][(rate / 2 - 500)..<(rate / 2 + 500)]) / Signals.rms(x[...]) - 0.5) < 0.02)
        let louder = try render([.gain(decibels: 6)], audio)
        #expect(abs(louder.channels[1][1000] / x[1000] - Float(pow(10, 0.3))) < 1e-5)
        let twice = try render([.reverse, .reverse], audio)
        #expect(twice == audio)
        #expect(try render([.reverse], audio).channels[0][0] == x.last)
    }

    @Test func trimPastTheEndIsRefusedWithItsOperation() {
        do {
            _ = try render([.gain(decibels: 1), .trim(start: 9, end: nil)], Signals.stereo(Signals.sine(200, seconds: 2)))
            Issue.record("accepted a trim past the end")
        } catch {
            #expect("\(error)".hasPrefix("operations[1] (trim): start_s 9.000 is at or past the end"))
        }
    }

    @Test func loopRepeatsWithoutAClick() throws {
        // A 0.5 s section whose ends do not line up with the sine's period: a bare splice would jump.
        let x = Signals.sine(221, seconds: 2)
        let out = try render([.loop(start: 0.5, end: 1.0, count: 4, crossfadeMilliseconds: 10)], Signals.stereo(x))
        let section = rate / 2, fade = Int(0.010 * Double(rate))
        #expect(out.frameCount == x.count + 3 * (section - fade))
        // Around each seam, no step larger than the sine's own largest step.
        let natural = Signals.maxStep(x)
        for seam in 1..<4 {
            let at = rate + seam * (section - fade)
            #expect(Signals.maxStep(out.channels[0], in: (at - fade - 200)..<(at + 200)) <= natural * 1.05, "seam \(seam)")
        }
    }

    @Test func stylesHaveNoDiscontinuityAtOperationBoundaries() throws {
        // Every preset, applied to a chord that is cut mid-cycle at a trim and looped mid-cycle: the
        // largest sample-to-sample step near those boundaries is no larger than elsewhere in the output.
        let library = StyleLibrary(directories: [Signals.repositoryRoot.appendingPathComponent("config/styles").path])
        let styles = library.list().styles
        #expect(styles.count >= 7)
        let chord = Signals.chord([196, 247, 294], seconds: 5, amplitude: 0.25)
        let input = Signals.stereo(chord, chord.map { $0 * 0.8 })
        for style in styles {
            let prefix: [EditOperation] = [.trim(start: 0.3013, end: 4.7), .loop(start: 1.0, end: 2.0077, count: 2, crossfadeMilliseconds: 10)]
            let out = try Renderer().render(Edit(operations: prefix + style.edit.operations), input)
            let x = out.channels[0]
            #expect(x.allSatisfy { $0.isFinite && abs($0) <= 1 }, "\(style.name): non-finite or clipped samples")
            let overall = Signals.maxStep(x, in: (x.count / 8)..<(x.count * 7 / 8))
            // Output positions of the boundaries: the start, the loop seam, the end, scaled by any tempo or speed change.
            let scale = Double(x.count) / (Double(input.frameCount) - 0.6013 * 44100 + 1.0077 * 44100 - 441)
            let seam = Int((2.0077 - 0.3013) * 44100 * scale)
            #expect(Signals.maxStep(x, in: (seam - 900)..<(seam + 900)) <= overall * 1.5 + 0.002, "\(style.name): at the loop seam")
            #expect(Signals.maxStep(x, in: 0..<300) <= overall * 1.5 + 0.002, "\(style.name): at the start")
            #expect(Signals.maxStep(x, in: (x.count - 300)..<x.count) <= overall * 1.5 + 0.002, "\(style.name): at the end")
        }
    }

    @Test func effectsKeepLengthAndStayFinite() throws {
        let audio = Signals.stereo(Signals.chord([220, 330], seconds: 1.5), Signals.noise(seconds: 1.5, amplitude: 0.1))
        var gate = GateSettings(); gate.holdMilliseconds = 100
        let operations: [EditOperation] = [
            .saturation(driveDecibels: 12, mix: 1), .bitcrush(bits: 8, sampleRate: 8000), .chorus(ChorusSettings()),
            .reverb(ReverbSettings()), .gatedReverb(ReverbSettings(), gate), .wowFlutter(WowFlutterSettings()),
            .vinyl(VinylSettings()), .compressor(CompressorSettings()),
        ]
        for operation in operations {
            let out = try render([operation], audio)
            #expect(out.frameCount == audio.frameCount && out.channelCount == 2, "\(operation.name)")
            #expect(out.channels.allSatisfy { $0.allSatisfy { $0.isFinite } }, "\(operation.name)")
            #expect(out != audio, "\(operation.name) changed nothing")
        }
        // Bit depth: 4 bits leave at most 16 levels.
        let crushed = try render([.bitcrush(bits: 4, sampleRate: nil)], audio)
        #expect(Set(crushed.channels[0]).count <= 17)
        // Vinyl noise is reproducible.
        #expect(try render([.vinyl(VinylSettings())], audio) == render([.vinyl(VinylSettings())], audio))
    }

    @Test func wowAndFlutterBendThePitchByTheSetAmount() throws {
        var s = WowFlutterSettings()
        s.wowRate = 1; s.wowPercent = 1; s.flutterPercent = 0
        let x = Signals.sine(1000, seconds: 2)
        let out = try render([.wowFlutter(s)], AudioBuffer(channels: [x], sampleRate: rate))
        // Instantaneous frequency from zero crossings over 50 ms windows swings about +/-1 %.
        var lowest = 2000.0, highest = 0.0
        for start in stride(from: rate / 4, to: 7 * rate / 4, by: rate / 40) {
            let f = Signals.frequency(Array(out.channels[0][start..<(start + rate / 20)]), rate: rate, margin: 0)
            lowest = min(lowest, f); highest = max(highest, f)
        }
        #expect(highest > 1008 && highest < 1012 && lowest < 992 && lowest > 988, "\(lowest)...\(highest)")
    }
}
