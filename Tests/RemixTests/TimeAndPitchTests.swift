import Audio
import Foundation
import Testing
@testable import Remix

@Suite struct TimeAndPitchTests {
    let rate = 44100

    @Test(arguments: [-7.0, -2, 3, 12])
    func pitchShiftMovesTheFrequencyAndKeepsTheDuration(semitones: Double) throws {
        let x = Signals.sine(440, seconds: 3, rate: rate)
        let out = try Renderer().render(Edit(operations: [.pitch(semitones: semitones)]), Signals.stereo(x, rate: rate))
        let expected = 440 * pow(2, semitones / 12)
        let measured = Signals.frequency(out.channels[0], rate: rate)
        #expect(abs(measured / expected - 1) < 0.001, "\(semitones) st: \(measured) Hz, expected \(expected)")
        // Duration: within 10 ms per minute (here it is exact).
        #expect(abs(Double(out.frameCount - x.count)) / Double(rate) <= 0.010 * 3 / 60)
        // The channels stay identical (shared phase rotations).
        #expect(out.channels[0] == out.channels[1])
        // Level is kept in the steady part.
        let level = Signals.rms(out.channels[0][(x.count / 4)..<(3 * x.count / 4)]) / Signals.rms(x[...])
        #expect(level > 0.85 && level < 1.15, "level ratio \(level)")
    }

    @Test(arguments: [0.5, 0.8, 1.25, 2.0])
    func tempoScalesDurationExactlyAndKeepsPitch(ratio: Double) throws {
        let x = Signals.chord([330], seconds: 2, rate: rate, amplitude: 0.5)
        let out = try Renderer().render(Edit(operations: [.tempo(ratio: ratio)]), AudioBuffer(channels: [x], sampleRate: rate))
        #expect(out.frameCount == Int((Double(x.count) / ratio).rounded()))
        let measured = Signals.frequency(out.channels[0], rate: rate)
        #expect(abs(measured / 330 - 1) < 0.001, "tempo \(ratio): \(measured) Hz")
    }

    @Test func speedChangesBoth() throws {
        let x = Signals.sine(440, seconds: 2, rate: rate)
        let out = try Renderer().render(Edit(operations: [.speed(ratio: 1.5)]), AudioBuffer(channels: [x], sampleRate: rate))
        #expect(out.frameCount == Int((Double(x.count) / 1.5).rounded()))
        #expect(abs(Signals.frequency(out.channels[0], rate: rate) / 660 - 1) < 0.001)
    }

    @Test func stretchedChordKeepsEveryPartial() throws {
        // Three partials a fifth and an octave apart survive a tempo change with their levels.
        let x = Signals.chord([220, 330, 440], seconds: 2, rate: rate, amplitude: 0.25)
        let out = try Renderer().render(Edit(operations: [.tempo(ratio: 0.75)]), AudioBuffer(channels: [x], sampleRate: rate))
        let input = Signals.rms(x[...]), output = Signals.rms(out.channels[0][(out.frameCount / 4)..<(3 * out.frameCount / 4)])
        #expect(abs(Signals.decibels(output / input)) < 1.0)
    }
}
