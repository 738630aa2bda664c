import Audio
import Foundation
import TestSupport
import Testing
@testable import Remix

/// Synthetic replacement without the registry: the matcher's judgement is the daemon's part
/// (DaemonTests/RemixRouteTests); here it is a function of the replaced span that says yes.
@Suite struct ReplacementTests {
    static let rate = 44_100
    /// Chords I-IV-V-vi in C + seed % 7 semitones, a beat every 0.5 s, hi-hats on every half beat.
    static func band(seed: UInt64, seconds: Double = 30) -> AudioBuffer {
        GeneratedMusic.stereoChords(seed: seed, seconds: seconds, sampleRate: rate)
    }

    func replace(_ audio: AudioBuffer, start: Double = 10, end: Double = 20, seed: UInt64 = 7, grid: BeatGrid? = nil,
                 descriptors: GapDescriptors? = nil) throws -> SegmentReplacer.Outcome {
        try SegmentReplacer().replace(in: audio, start: start, end: end, grid: grid ?? MusicAnalysis.beatGrid(audio), style: "synthwave-80s",
                                      seed: seed, descriptors: descriptors) { _ in true }
    }

    @Test func theBeatGridAndTheKeyOfGeneratedMusicAreFound() throws {
        let audio = Self.band(seed: 3)
        let grid = try #require(MusicAnalysis.beatGrid(audio))
        #expect(abs(grid.period - 0.5) < 0.005, "period \(grid.period)")
        #expect(min(grid.phase, grid.period - grid.phase) < 0.03, "phase \(grid.phase)")
        let key = try #require(MusicAnalysis.key(audio))
        #expect(key == MusicalKey(tonic: 3, minor: false) || key == MusicalKey(tonic: 0, minor: true), "\(key)")
    }

    @Test func keysAreCompatibleWithThemselvesTheirRelativeAndTheirFifths() {
        let c = MusicalKey(tonic: 0, minor: false)
        #expect(c.isCompatible(with: c) && c.isCompatible(with: MusicalKey(tonic: 9, minor: true)))
        #expect(c.isCompatible(with: MusicalKey(tonic: 7, minor: false)) && c.isCompatible(with: MusicalKey(tonic: 5, minor: false)))
        #expect(!c.isCompatible(with: MusicalKey(tonic: 1, minor: false)) && !c.isCompatible(with: MusicalKey(tonic: 0, minor: true)))
        #expect(MusicalKey(tonic: 9, minor: true).isCompatible(with: c))
    }

    @Test func aReplacedStretchIsNewMaterialOnTheBeatAtTheContourWithCleanJoins() throws {
        let audio = Self.band(seed: 3)
        let outcome = try replace(audio)
        let result = try #require(outcome.audio, "rounds: \(outcome.rounds)")
        #expect(result.frameCount == audio.frameCount && result.sampleRate == audio.sampleRate && result.channelCount == 2)
        // Widened to whole beats, crossfades included.
        #expect(outcome.start <= 10 && outcome.start > 9.5 - 0.07 && outcome.end >= 20 && outcome.end < 20.5)
        let rate = Double(Self.rate)
        let gap = Int((outcome.start * rate).rounded())..<Int((outcome.end * rate).rounded())
        // Untouched outside, different inside.
        #expect(result.channels[0][..<gap.lowerBound] == audio.channels[0][..<gap.lowerBound])
        #expect(result.channels[1][gap.upperBound...] == audio.channels[1][gap.upperBound...])
        let inside = (gap.lowerBound + 4410)..<(gap.upperBound - 4410)
        let difference = zip(result.channels[0][inside], audio.channels[0][inside]).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        let original = audio.channels[0][inside].map { Double($0) * Double($0) }.reduce(0, +)
        #expect(difference > 0.5 * original)
        // The new material keeps the beat, the key family and the loudness of what it replaced.
        let region = AudioBuffer(channels: result.channels.map { Array($0[gap]) }, sampleRate: Self.rate)
        let grid = try #require(MusicAnalysis.beatGrid(audio))
        let phase = try #require(MusicAnalysis.beatPhase(region, period: grid.period))
        let expected = (grid.phase - outcome.start).truncatingRemainder(dividingBy: grid.period) + grid.period
        let offset = abs(phase - expected.truncatingRemainder(dividingBy: grid.period))
        #expect(min(offset, grid.period - offset) < 0.03, "beat phase \(phase) against \(expected)")
        let wanted = LoudnessMeter.integratedLoudness(AudioBuffer(channels: audio.channels.map { Array($0[gap]) }, sampleRate: Self.rate))
        #expect(abs(LoudnessMeter.integratedLoudness(region) - wanted) < 1)
        // No click: the largest sample step around each join is no larger than the recording's own.
        let largestStep = audio.channels.map { c in zip(c.dropFirst(), c).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        for edge in [gap.lowerBound, gap.upperBound] {
            let near = (edge - 2205)..<(edge + 2205)
            let step = result.channels.map { c in near.map { abs(c[$0] - c[$0 - 1]) }.max() ?? 0 }.max() ?? 0
            #expect(step <= largestStep * 1.05, "step \(step) at \(edge) against \(largestStep)")
        }
        #expect(outcome.rounds.last?.accepted == true && outcome.rounds.last?.problems == [])
    }

    @Test func theSameDescriptorsGiveTheSameMaterialWhateverTheRecording() throws {
        // Both recordings have a beat every 0.5 s from 0; the grid is given so the stretches are equal.
        let grid = BeatGrid(period: 0.5, phase: 0)
        let first = try replace(Self.band(seed: 3), grid: grid)
        // Another recording (another key and level), told the first one's descriptors.
        var other = Self.band(seed: 5)
        for c in other.channels.indices { other.channels[c] = other.channels[c].map { $0 * 0.5 } }
        let second = try replace(other, grid: grid, descriptors: first.descriptors)
        let a = try #require(first.audio), b = try #require(second.audio)
        let rate = Double(Self.rate)
        let inside = Int((first.start + 0.1) * rate)..<Int((first.end - 0.1) * rate)
        #expect(a.channels[0][inside] == b.channels[0][inside] && a.channels[1][inside] == b.channels[1][inside])
    }

    @Test func theSameInputStretchAndSeedGiveTheSameSamplesAndAnotherSeedDoesNot() throws {
        let audio = Self.band(seed: 4)
        let once = try #require(try replace(audio).audio), again = try #require(try replace(audio).audio)
        #expect(once.channels == again.channels)
        let reseeded = try #require(try replace(audio, seed: 8).audio)
        #expect(reseeded.channels != once.channels)
    }

    @Test func aJudgeThatAlwaysFindsTheRecordingExhaustsTheRoundsWithNewSeeds() throws {
        let audio = Self.band(seed: 3, seconds: 20)
        var asked = 0
        let outcome = try SegmentReplacer(maxRounds: 3).replace(in: audio, start: 5, end: 12, grid: MusicAnalysis.beatGrid(audio),
                                                                style: "lofi-hiphop", seed: 1) { _ in asked += 1; return false }
        #expect(outcome.audio == nil && outcome.rounds.count == 3 && asked == 3)
        #expect(Set(outcome.rounds.map(\.seed)).count == 3 && outcome.rounds.allSatisfy { $0.recording_gone == false })
    }

    @Test func aStretchTooShortToFillIsNotReplacedAndSaysWhy() throws {
        let audio = Self.band(seed: 3, seconds: 10)
        let outcome = try SegmentReplacer().replace(in: audio, start: 9.9, end: 9.95, grid: BeatGrid(period: 0.5, phase: 0.2),
                                                    style: "pop", seed: 1) { _ in true }
        #expect(outcome.audio == nil && outcome.rounds.isEmpty && outcome.notes.contains { $0.contains("too short") }, "\(outcome.notes)")
    }
}
