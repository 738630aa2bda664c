import Audio
import Foundation
import Testing
@testable import Remix

@Suite struct FilterTests {
    /// Gain of a biquad on a steady sine, from the RMS of the second half of the output.
    func measuredGain(_ band: FilterBand, at frequency: Double, rate: Int = 44100) -> Double {
        var x = Signals.sine(frequency, seconds: 0.5, rate: rate)
        let input = Signals.rms(x[(x.count / 2)...])
        Biquad(band, sampleRate: Double(rate)).process(&x)
        return Signals.decibels(Signals.rms(x[(x.count / 2)...]) / input)
    }

    @Test func lowAndHighPassAttenuateAsDesigned() {
        let lowpass = FilterBand(kind: .lowpass, frequency: 1000)
        #expect(abs(measuredGain(lowpass, at: 1000) + 3.01) < 0.05)      // Butterworth Q: -3 dB at the cutoff
        #expect(abs(measuredGain(lowpass, at: 100)) < 0.05)               // pass band flat
        let atFourK = measuredGain(lowpass, at: 4000)
        #expect(atFourK < -23 && atFourK > -26)                           // 12 dB per octave, two octaves up
        let highpass = FilterBand(kind: .highpass, frequency: 200)
        #expect(abs(measuredGain(highpass, at: 200) + 3.01) < 0.05)
        #expect(abs(measuredGain(highpass, at: 50) - Biquad(highpass, sampleRate: 44100).responseDecibels(at: 50, sampleRate: 44100)) < 0.1)
        #expect(measuredGain(highpass, at: 50) < -23)
    }

    @Test func shelvesAndPeaksReachTheirGain() {
        let peak = FilterBand(kind: .peaking, frequency: 2000, q: 1.5, gainDecibels: 6)
        #expect(abs(measuredGain(peak, at: 2000) - 6) < 0.05)
        #expect(abs(measuredGain(peak, at: 200)) < 0.2)
        let low = FilterBand(kind: .lowshelf, frequency: 200, gainDecibels: -9)
        #expect(abs(measuredGain(low, at: 30) + 9) < 0.3)
        #expect(abs(measuredGain(low, at: 8000)) < 0.1)
        let high = FilterBand(kind: .highshelf, frequency: 5000, gainDecibels: 4)
        #expect(abs(measuredGain(high, at: 18000) - 4) < 0.2)
        #expect(abs(measuredGain(high, at: 300)) < 0.1)
        let notch = FilterBand(kind: .notch, frequency: 1000, q: 2)
        #expect(measuredGain(notch, at: 1000) < -40)
    }

    @Test func filterAboveNyquistIsRefused() throws {
        let edit = Edit(operations: [.filter([FilterBand(kind: .lowpass, frequency: 30000)])])
        #expect(throws: EditError.self) { try Renderer().render(edit, Signals.stereo(Signals.sine(100, seconds: 0.1))) }
    }
}

@Suite struct LoudnessTests {
    /// EBU Tech 3341 case 1: a stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS.
    @Test func referenceSineReadsItsLevel() {
        for rate in [44100, 48000] {
            let amplitude = Float(pow(10, -23.0 / 20))
            let x = Signals.sine(1000, seconds: 20, rate: rate, amplitude: amplitude)
            let lufs = LoudnessMeter.integratedLoudness(Signals.stereo(x, rate: rate))
            #expect(abs(lufs + 23) < 0.1, "\(rate) Hz: \(lufs)")
        }
    }

    /// EBU Tech 3341 case 3 shape: -36 / -23 / -36 dBFS sections; the relative gate drops the quiet ones.
    @Test func gatingIgnoresQuietParts() {
        let quiet = Signals.sine(1000, seconds: 10, amplitude: Float(pow(10, -36.0 / 20)))
        let loud = Signals.sine(1000, seconds: 60, amplitude: Float(pow(10, -23.0 / 20)))
        let x = quiet + loud + quiet
        let lufs = LoudnessMeter.integratedLoudness(Signals.stereo(x))
        #expect(abs(lufs + 23) < 0.1, "\(lufs)")
        #expect(LoudnessMeter.integratedLoudness(Signals.stereo([Float](repeating: 0, count: 44100))) == -.infinity)
    }

    @Test func normalisationLandsOnTarget() throws {
        let signals: [(String, AudioBuffer)] = [
            ("noise", Signals.stereo(Signals.noise(seconds: 5), Signals.noise(seconds: 5, seed: 9))),
            ("chord", Signals.stereo(Signals.chord([110, 220, 330, 440, 550], seconds: 5))),
            ("quiet sine", AudioBuffer(channels: [Signals.sine(3000, seconds: 5, amplitude: 0.01)], sampleRate: 44100)),
        ]
        for (name, audio) in signals {
            for target in [-23.0, -16, -9] {
                let out = try Renderer().render(Edit(operations: [.normalizeLoudness(targetLUFS: target)]), audio)
                let measured = LoudnessMeter.integratedLoudness(out)
                #expect(abs(measured - target) < 0.5, "\(name) to \(target): \(measured)")
            }
        }
    }

    @Test func silenceCannotBeNormalised() {
        let silent = Signals.stereo([Float](repeating: 0, count: 44100))
        #expect(throws: EditError.self) { try Renderer().render(Edit(operations: [.normalizeLoudness(targetLUFS: -14)]), silent) }
    }
}

@Suite struct DynamicsTests {
    @Test func compressorReducesByTheRatio() throws {
        // A -6 dBFS sine, threshold -20, ratio 4, hard knee: 14 dB over -> 10.5 dB of reduction.
        var settings = CompressorSettings()
        settings.thresholdDecibels = -20; settings.ratio = 4; settings.kneeDecibels = 0
        settings.attackMilliseconds = 1; settings.releaseMilliseconds = 50
        let x = Signals.sine(1000, seconds: 1, amplitude: 0.5)
        let out = try Renderer().render(Edit(operations: [.compressor(settings)]), Signals.stereo(x))
        let change = Signals.decibels(Signals.rms(out.channels[0][22050...]) / Signals.rms(x[22050...]))
        #expect(abs(change + 10.5) < 0.6, "\(change)")
    }

    @Test func limiterHoldsTheCeiling() throws {
        // Three sines of 0.6 peak at up to 1.8 together; they swell in over the first half second.
        var x = Signals.chord([100, 150, 225], seconds: 1, amplitude: 0.6)
        for i in 0..<22050 { x[i] *= Float(i) / 22050 }
        let out = try Renderer().render(Edit(operations: [.limiter(ceilingDecibels: -1, releaseMilliseconds: 50)]), Signals.stereo(x))
        let ceiling = Float(pow(10, -1.0 / 20))
        #expect(out.channels.allSatisfy { $0.allSatisfy { abs($0) <= ceiling + 1e-6 } })
        #expect(out.channels[0].map(abs).max()! > ceiling * 0.98)
        // The gain moves smoothly: no step larger than the signal's own.
        #expect(Signals.maxStep(out.channels[0]) <= Signals.maxStep(x))
    }
}
