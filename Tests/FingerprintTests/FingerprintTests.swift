import Foundation
import Spectral
import TestSupport
import Testing
@testable import Fingerprint

@Suite struct LandmarkHashTests {
    @Test func packingRoundTrips() throws {
        for (bin, df, dt) in [(0, -128, 1), (511, 127, 63), (200, 0, 17), (10, -5, 2)] {
            let hash = try #require(LandmarkHash(anchorBin: bin, binDelta: df, frameDelta: dt))
            #expect(hash.anchorBin == bin)
            #expect(hash.binDelta == df)
            #expect(hash.frameDelta == dt)
            #expect(hash.value < 1 << 23)
        }
    }

    @Test func outOfRangeFieldsAreRefused() {
        #expect(LandmarkHash(anchorBin: 512, binDelta: 0, frameDelta: 1) == nil)
        #expect(LandmarkHash(anchorBin: 1, binDelta: 128, frameDelta: 1) == nil)
        #expect(LandmarkHash(anchorBin: 1, binDelta: 0, frameDelta: 0) == nil)
        #expect(LandmarkHash(anchorBin: 1, binDelta: 0, frameDelta: 64) == nil)
    }
}

@Suite struct PeakPickerTests {
    let parameters = FingerprintParameters.current

    /// Tone bursts at known times and frequencies: each must give a peak at its bin while it sounds.
    @Test func tonePeaksLandOnTheirBinsAndFrames() {
        let rate = parameters.sampleRate
        let binWidth = Double(rate) / Double(parameters.fftSize)
        let bursts: [(start: Double, frequency: Double)] = [(0.5, 440), (1.5, 1000), (2.5, 2500), (3.5, 700)]
        var signal = [Float](repeating: 0, count: rate * 5)
        for burst in bursts {
            let tone = GeneratedMusic.tone(frequency: burst.frequency, seconds: 0.6, sampleRate: rate)
            for (i, v) in tone.enumerated() { signal[Int(burst.start * Double(rate)) + i] += v }
        }
        let spectrogram = STFT(size: parameters.fftSize, hop: parameters.hop).powerSpectrogram(signal, sampleRate: rate)
        let peaks = PeakPicker(parameters: parameters).peaks(in: spectrogram)
        for burst in bursts {
            let bin = Int((burst.frequency / binWidth).rounded())
            let first = Int(burst.start / parameters.secondsPerFrame)
            let last = Int((burst.start + 0.6) / parameters.secondsPerFrame) - parameters.fftSize / parameters.hop
            let found = peaks.filter { abs($0.bin - bin) <= 1 }
            #expect(!found.isEmpty, "no peak near bin \(bin) for \(burst.frequency) Hz")
            #expect(found.allSatisfy { $0.frame >= first - 4 && $0.frame <= last + 4 },
                    "peaks for \(burst.frequency) Hz outside frames \(first)...\(last): \(found.map(\.frame))")
        }
        // Nothing strong where no tone sounds: every peak is near one of the four bins.
        let bins = bursts.map { Int(($0.frequency / binWidth).rounded()) }
        #expect(peaks.filter { p in p.prominence > 5 && !bins.contains { abs($0 - p.bin) <= 2 } }.isEmpty)
    }

    @Test func densityIsCapped() {
        let rate = parameters.sampleRate
        let noise = GeneratedMusic.withNoise([Float](repeating: 0, count: rate * 10), snr: 0, seed: 1)
            .map { $0 == 0 ? Float.random(in: -0.5...0.5) : $0 }
        let spectrogram = STFT(size: parameters.fftSize, hop: parameters.hop).powerSpectrogram(noise, sampleRate: rate)
        let peaks = PeakPicker(parameters: parameters).peaks(in: spectrogram)
        #expect(peaks.count <= parameters.peaksPerSecond * 11)
        #expect(peaks.count >= parameters.peaksPerSecond * 5)
    }
}

@Suite struct FingerprinterTests {
    @Test func landmarksPairPeaksWithinTheTargetZone() {
        let p = FingerprintParameters.current
        let peaks = [Peak(frame: 0, bin: 100, prominence: 3), Peak(frame: 5, bin: 150, prominence: 3),
                     Peak(frame: 10, bin: 400, prominence: 3), Peak(frame: 70, bin: 120, prominence: 3)]
        let landmarks = Fingerprinter(parameters: p).landmarks(peaks: peaks)
        // (0,100)->(5,150); (0,100)->(10,400) is out of the bin range; (5,150)->(10,400) is 250 bins
        // away, also out; (10,400)->(70,120) is 280 bins away; (0,*)->(70,*) is past 63 frames.
        #expect(landmarks.count == 1)
        #expect(landmarks.first?.frame == 0)
        #expect(landmarks.first?.hash == LandmarkHash(anchorBin: 100, binDelta: 50, frameDelta: 5))
    }

    @Test func sameAudioGivesSameLandmarks() {
        let audio = GeneratedMusic.track(seed: 3, seconds: 8, sampleRate: 8000)
        let fingerprinter = Fingerprinter()
        #expect(fingerprinter.landmarks(samples: audio) == fingerprinter.landmarks(samples: audio))
        #expect(fingerprinter.landmarks(samples: audio).count > 8 * 10)
    }
}

@Suite struct MatcherTests {
    @Test func votesPickTheAlignedTrack() {
        var hits: [Hit] = []
        for q in 0..<20 { hits.append(Hit(trackID: 7, masterFrame: Int32(q) + 300 + Int32(q % 2), queryFrame: Int32(q))) }
        for q in 0..<30 { hits.append(Hit(trackID: 9, masterFrame: Int32(q * 37 % 500), queryFrame: Int32(q))) }
        let ranked = Matcher().rank(hits, top: 3)
        #expect(ranked.count == 1) // track 9's hits never agree on an offset
        #expect(ranked.first?.trackID == 7)
        #expect(ranked.first.map { abs($0.offsetFrames - 300) <= 1 } == true)
        #expect(ranked.first?.score == 20)
        #expect(ranked.first?.queryFrames == 0...19)
    }

    @Test func tooFewAgreeingHitsIsNoMatch() {
        let p = FingerprintParameters.current
        let hits = (0..<(p.minimumVotes - 1)).map { Hit(trackID: 1, masterFrame: Int32($0) + 50, queryFrame: Int32($0)) }
        #expect(Matcher(parameters: p).rank(hits).isEmpty)
        #expect(Matcher(parameters: p).rank(hits + [Hit(trackID: 1, masterFrame: 500, queryFrame: 450)]).count == 1)
    }
}
