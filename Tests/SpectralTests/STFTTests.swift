import Foundation
import Testing
@testable import Spectral

@Suite struct STFTTests {
    /// Power of bin k of a windowed frame, by the DFT's definition.
    func naivePower(_ frame: [Float], _ k: Int) -> Double {
        let n = frame.count
        var re = 0.0, im = 0.0
        for (i, x) in frame.enumerated() {
            let phase = -2 * Double.pi * Double(k * i) / Double(n)
            re += Double(x) * cos(phase)
            im += Double(x) * sin(phase)
        }
        return re * re + im * im
    }

    @Test func matchesNaiveDFT() {
        var rng = SystemRandomNumberGenerator()
        let signal = (0..<3000).map { _ in Float.random(in: -1...1, using: &rng) }
        let stft = STFT(size: 256, hop: 100)
        let spectrogram = stft.powerSpectrogram(signal, sampleRate: 8000)
        #expect(spectrogram.frameCount == (3000 - 256) / 100 + 1)
        #expect(spectrogram.binCount == 129)
        for frame in [0, 7, spectrogram.frameCount - 1] {
            let windowed = (0..<256).map { signal[frame * 100 + $0] * stft.window[$0] }
            for k in [0, 1, 37, 64, 128] {
                let expected = naivePower(windowed, k)
                #expect(abs(Double(spectrogram[frame, k]) - expected) <= 1e-3 * max(expected, 1), "frame \(frame) bin \(k)")
            }
        }
    }

    @Test func shortSignalHasNoFrames() {
        let spectrogram = STFT(size: 512, hop: 128).powerSpectrogram([Float](repeating: 0, count: 100), sampleRate: 8000)
        #expect(spectrogram.frameCount == 0)
        #expect(spectrogram.values.isEmpty)
    }

    @Test func plansAreSharedPerSize() {
        #expect(FFTPlan.realForward(size: 1024) === FFTPlan.realForward(size: 1024))
        #expect(FFTPlan.realForward(size: 512) !== FFTPlan.realForward(size: 1024))
    }
}
