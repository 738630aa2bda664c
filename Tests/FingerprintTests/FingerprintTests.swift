import Foundation
import Spectral
import TestSupport
import Testing
import Audio
import Remix
@testable import Fingerprint

@Suite struct LandmarkHashTests {
    @Test func packingRoundTrips() throws {
        for (anchor, interval, dt) in [(0, -32, 1), (255, 31, 63), (100, 0, 17), (10, -5, 2)] {
            let hash = try #require(LandmarkHash(anchorCell: anchor, intervalCell: interval, frameDelta: dt))
            #expect(hash.anchorCell == anchor)
            #expect(hash.intervalCell == interval)
            #expect(hash.frameDelta == dt)
            #expect(hash.value < 1 << 20)
        }
    }

    @Test func outOfRangeFieldsAreRefused() {
        #expect(LandmarkHash(anchorCell: 256, intervalCell: 0, frameDelta: 1) == nil)
        #expect(LandmarkHash(anchorCell: 1, intervalCell: 32, frameDelta: 1) == nil)
        #expect(LandmarkHash(anchorCell: 1, intervalCell: 0, frameDelta: 0) == nil)
        #expect(LandmarkHash(anchorCell: 1, intervalCell: 0, frameDelta: 64) == nil)
    }
}

@Suite struct PeakPickerTests {
    let parameters = FingerprintParameters.current

    /// The vectorised neighbourhood maximum equals the plain definition, edges and odd widths included.
    @Test(arguments: [true, false])
    func slidingMaxIsTheWindowMaximum(alongRows: Bool) {
        var rng = SeededRandom(seed: 9)
        let rows = 23, columns = 37, radius = 4
        let m = (0..<rows * columns).map { _ in Float.random(in: -5...5, using: &rng) }
        let fast = PeakPicker.slidingMax(m, rows: rows, columns: columns, radius: radius, alongRows: alongRows)
        for r in 0..<rows {
            for c in 0..<columns {
                let window = alongRows
                    ? (max(0, c - radius)...min(columns - 1, c + radius)).map { m[r * columns + $0] }
                    : (max(0, r - radius)...min(rows - 1, r + radius)).map { m[$0 * columns + c] }
                #expect(fast[r * columns + c] == window.max()!, "row \(r), column \(c)")
            }
        }
    }

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
        // Interpolation puts each tone's peaks within a fifth of a bin of its true frequency.
        for burst in bursts {
            let exact = Float(burst.frequency / binWidth)
            let found = peaks.filter { abs(Float($0.bin) - exact) <= 1 }
            #expect(found.allSatisfy { abs($0.fineBin - exact) < 0.2 }, "\(burst.frequency) Hz: \(found.map(\.fineBin)) vs \(exact)")
        }
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
    @Test func landmarksPairPeaksWithinTheTargetZone() throws {
        let p = FingerprintParameters.current
        // 100 -> 200 bins is an octave (12 semitones); 100 -> 400 two octaves, out of the zone.
        let peaks = [Peak(frame: 0, bin: 100, prominence: 3), Peak(frame: 5, bin: 200, prominence: 3),
                     Peak(frame: 10, bin: 400, prominence: 3), Peak(frame: 70, bin: 120, prominence: 3)]
        let landmarks = Fingerprinter(parameters: p).landmarks(peaks: peaks)
        // (0,100)->(5,200); (5,200)->(10,400) and (0,100)->(10,400) are 12 and 24 semitones
        // apart, the second out of range; (10,400)->(70,120) is 60 frames and 21 semitones.
        #expect(landmarks.map(\.frame) == [0, 5])
        let anchor = Int((p.pitch(ofBin: 100) / p.anchorPitchStep).rounded(.down))
        #expect(landmarks.first?.hash == LandmarkHash(anchorCell: anchor, intervalCell: 24, frameDelta: 5))
    }

    @Test func sameAudioGivesSameLandmarks() {
        let audio = GeneratedMusic.track(seed: 3, seconds: 8, sampleRate: 8000)
        let fingerprinter = Fingerprinter()
        #expect(fingerprinter.landmarks(samples: audio) == fingerprinter.landmarks(samples: audio))
        #expect(fingerprinter.landmarks(samples: audio).count > 8 * 10)
    }

    /// Under the identity transform, a query of the whole master probes exactly the master's hashes.
    @Test func identityProbesAreTheMasterHashes() throws {
        let p = FingerprintParameters.current
        let audio = GeneratedMusic.track(seed: 4, seconds: 6, sampleRate: 8000)
        let master = Set(Fingerprinter(parameters: p).landmarks(samples: audio).map(\.hash))
        let identityPitch = try #require(p.pitchShifts.firstIndex(of: 0))
        let identityScale = try #require(p.timeScales.firstIndex { abs($0 - 1) < 1e-9 })
        let probed = Set(Fingerprinter(parameters: p).query(samples: audio).probes
            .filter { Int($0.pitchIndex) == identityPitch && Int($0.scaleIndex) == identityScale }.map(\.hash))
        #expect(master.isSubset(of: probed))
        #expect(!master.isEmpty)
    }
}

/// A catalog held in memory: the same lookup the database does, for the matcher's tests.
struct MemoryIndex {
    var rows: [UInt32: [(track: Int32, frame: Int32)]] = [:]
    var frames = 0
    var tracks = 0

    mutating func add(_ track: Int32, _ samples: [Float]) {
        for l in Fingerprinter().landmarks(samples: samples) { rows[l.hash.value, default: []].append((track, l.frame)) }
        frames += samples.count / FingerprintParameters.current.hop
        tracks += 1
    }

    func match(_ samples: [Float]) -> [Candidate] {
        let query = Fingerprinter().query(samples: samples)
        var hits: [Hit] = []
        for (i, probe) in query.probes.enumerated() {
            for row in rows[probe.hash.value] ?? [] { hits.append(Hit(trackID: row.track, masterFrame: row.frame, probe: Int32(i))) }
        }
        return Matcher().rank(hits, query: query, catalog: CatalogExtent(tracks: tracks, frames: frames), top: 3)
    }
}

@Suite struct MatcherTests {
    static let rate = 8000
    static let catalog: MemoryIndex = {
        var index = MemoryIndex()
        for seed in 1...4 { index.add(Int32(seed), GeneratedMusic.track(seed: UInt64(seed), seconds: 40, sampleRate: rate)) }
        return index
    }()

    enum Change: CustomStringConvertible {
        case none, speed(Double), tempo(Double), pitch(Double)
        var description: String {
            switch self {
            case .none: "none"
            case let .speed(r): "speed \(r)"
            case let .tempo(r): "tempo \(r)"
            case let .pitch(s): "pitch \(s) st"
            }
        }
        /// (tempo factor, pitch factor) of the changed audio relative to the original.
        var factors: (Double, Double) {
            switch self {
            case .none: (1, 1)
            case let .speed(r): (r, r)
            case let .tempo(r): (r, 1)
            case let .pitch(s): (1, pow(2, s / 12))
            }
        }
        var operation: EditOperation? {
            switch self {
            case .none: nil
            case let .speed(r): .speed(ratio: r)
            case let .tempo(r): .tempo(ratio: r)
            case let .pitch(s): .pitch(semitones: s)
            }
        }
        func apply(_ samples: [Float]) throws -> [Float] {
            guard let operation else { return samples }
            return try Renderer().render(Edit(operations: [operation]), AudioBuffer(channels: [samples], sampleRate: MatcherTests.rate)).channels[0]
        }
    }

    static let changes: [Change] = [.none, .speed(1.03), .speed(0.97), .tempo(1.05), .tempo(0.95), .pitch(1), .pitch(-1)]

    /// An excerpt of a catalog track, changed by a known factor, is found with that factor
    /// (within 0.5 %) and where it starts (within 0.5 s of the master time).
    @Test(arguments: changes)
    func changedExcerptIsFoundWithItsFactor(_ change: Change) throws {
        let master = GeneratedMusic.track(seed: 3, seconds: 40, sampleRate: Self.rate)
        let start = 12.3
        let excerpt = GeneratedMusic.excerpt(master, sampleRate: Self.rate, start: start, seconds: 10)
        let best = try #require(Self.catalog.match(try change.apply(excerpt)).first, "\(change): no match")
        #expect(best.trackID == 3)
        let (tempo, pitch) = change.factors
        #expect(abs(best.tempoFactor / tempo - 1) < 0.005, "\(change): tempo factor \(best.tempoFactor)")
        #expect(abs(best.pitchFactor / pitch - 1) < 0.005, "\(change): pitch factor \(best.pitchFactor)")
        let offset = Double(best.offsetFrames) * FingerprintParameters.current.secondsPerFrame
        #expect(abs(offset - start) < 0.5, "\(change): offset \(offset) s")
        #expect(best.falseMatchProbability < 1e-6)
    }

    /// Music that was never in the catalog, under the same changes, matches nothing.
    @Test(arguments: changes)
    func unrelatedMaterialIsNotFound(_ change: Change) throws {
        let stranger = GeneratedMusic.track(seed: 99, seconds: 12, sampleRate: Self.rate)
        #expect(Self.catalog.match(try change.apply(stranger)).isEmpty)
    }

    /// One bar of four pitched hits, repeated: the kind of loop two different recordings share.
    static func loop(seconds: Double) -> [Float] {
        var out = [Float](repeating: 0, count: Int(seconds * Double(rate)))
        let hits: [(at: Double, hz: Double)] = [(0, 180), (0.27, 420), (0.51, 260), (0.83, 610)]
        for bar in stride(from: 0.0, to: seconds, by: 1.1) {
            for hit in hits {
                let s = Int((bar + hit.at) * Double(rate))
                for i in 0..<min(Int(0.15 * Double(rate)), max(0, out.count - s)) {
                    let t = Double(i) / Double(rate)
                    out[s + i] += Float(0.6 * exp(-t / 0.08) * sin(2 * .pi * hit.hz * t))
                }
            }
        }
        return out
    }

    /// Two recordings sharing a loop and nothing else: the loop agrees all along the query, but
    /// with the same few hashes at every repetition, so it is few coincidences, not many.
    @Test func sharedLoopIsNotARecordingMatch() throws {
        var index = MemoryIndex()
        let master = zip(Self.loop(seconds: 40), GeneratedMusic.track(seed: 7, seconds: 40, sampleRate: Self.rate)).map { $0 + 0.1 * $1 }
        index.add(1, master)
        for seed in 2...4 { index.add(Int32(seed), GeneratedMusic.track(seed: UInt64(seed), seconds: 40, sampleRate: Self.rate)) }
        let other = zip(Self.loop(seconds: 10), GeneratedMusic.track(seed: 42, seconds: 10, sampleRate: Self.rate)).map { $0 + 0.1 * $1 }
        #expect(index.match(other).isEmpty)

        // The loop does agree, many times over: counted per landmark it would have passed.
        let query = Fingerprinter().query(samples: other)
        var hits: [Hit] = []
        for (i, probe) in query.probes.enumerated() {
            for row in index.rows[probe.hash.value] ?? [] where row.track == 1 { hits.append(Hit(trackID: 1, masterFrame: row.frame, probe: Int32(i))) }
        }
        let matcher = Matcher(), extent = CatalogExtent(tracks: index.tracks, frames: index.frames)
        let cell = try #require(matcher.cells(hits, query: query).max { ($0.value, $1.key) < ($1.value, $0.key) }?.key)
        let loopMatch = try #require(matcher.candidate(1, cell: cell, hits: hits, query: query, catalog: extent))
        #expect(loopMatch.distinctHashes < loopMatch.score, "\(loopMatch.distinctHashes) distinct of \(loopMatch.score)")
        let perLandmark = matcher.chance(evidence: loopMatch.score, agreeing: loopMatch.score,
                                         trackLandmarks: Matcher.distinctLandmarks(hits, query: query).count,
                                         queryFrames: Int(query.frameCount), catalog: extent)
        #expect(perLandmark.probability <= FingerprintParameters.current.falseMatchProbability)
        #expect(loopMatch.falseMatchProbability > FingerprintParameters.current.falseMatchProbability)

        // The recording itself, loop and all, is still found.
        let excerpt = GeneratedMusic.excerpt(master, sampleRate: Self.rate, start: 20, seconds: 10)
        #expect(index.match(excerpt).first?.trackID == 1)
    }

    @Test func chanceOfManyAgreeingHitsShrinksFast() {
        #expect(abs(Matcher.poissonTail(atLeast: 0, mean: 3) - 1) < 1e-12)
        #expect(abs(Matcher.poissonTail(atLeast: 1, mean: 0.5) - (1 - exp(-0.5))) < 1e-12)
        #expect(Matcher.poissonTail(atLeast: 10, mean: 0.01) < 1e-25)
    }

    /// The bar rises with the catalog: the same alignment passes in a small catalog and not in a
    /// vastly larger one.
    @Test func noMatchRuleScalesWithTheCatalog() {
        let m = Matcher()
        let small = m.chance(evidence: 10, agreeing: 10, trackLandmarks: 40, queryFrames: 300, catalog: CatalogExtent(tracks: 100, frames: 100 * 5000))
        let large = m.chance(evidence: 10, agreeing: 10, trackLandmarks: 40, queryFrames: 300, catalog: CatalogExtent(tracks: 10_000_000, frames: 10_000_000 * 5000))
        #expect(small.probability < large.probability)
        #expect(small.probability <= FingerprintParameters.current.falseMatchProbability)
        #expect(large.probability > FingerprintParameters.current.falseMatchProbability)
    }
}
