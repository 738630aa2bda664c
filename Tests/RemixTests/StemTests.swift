import Audio
import Foundation
import Spectral
import Testing
@testable import Remix

@Suite struct StemTests {
    let rate = 22050

    @Test func stftRoundTripIsExact() {
        let x = Signals.noise(seconds: 0.5, rate: rate)
        let stft = ComplexSTFT(size: 1024, hop: 256)
        let y = stft.synthesize(stft.analyze(x))
        #expect(y.count == x.count)
        #expect(zip(x, y).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// A centred, non-repeating "voice" (a vibrato tone with harmonics) over an accompaniment that
    /// repeats every second and is panned off-centre, plus centred repeating clicks.
    func mixture(seconds: Double) -> (voice: [Float], left: [Float], right: [Float]) {
        let n = Int(seconds * Double(rate))
        var voice = [Float](repeating: 0, count: n)
        var phase = 0.0
        for i in 0..<n {
            let t = Double(i) / Double(rate)
            let note = [330.0, 392, 440, 349, 294, 523, 466][Int(t / 0.37) % 7]
            let f = note * (1 + 0.01 * sin(2 * Double.pi * 5.5 * t))
            phase += 2 * Double.pi * f / Double(rate)
            voice[i] = Float(0.2 * sin(phase) + 0.1 * sin(2 * phase) + 0.05 * sin(3 * phase))
        }
        var left = voice, right = voice
        let pattern = [110.0, 165, 147, 196]
        for i in 0..<n {
            let t = Double(i) / Double(rate)
            let f = pattern[Int(t * 4) % 4]
            let a = Float(0.15 * sin(2 * Double.pi * f * t) + 0.08 * sin(2 * Double.pi * 2 * f * t))
            left[i] += a * 0.9; right[i] += a * 0.3
            if i % (rate / 2) < 200 { let click = Float(0.3 * exp(-Double(i % (rate / 2)) / 30)); left[i] += click; right[i] += click }
        }
        return (voice, left, right)
    }

    func sdr(_ estimate: [Float], _ reference: [Float]) -> Double {
        var signal = 0.0, error = 0.0
        for i in reference.indices {
            signal += Double(reference[i]) * Double(reference[i])
            let d = Double(estimate[i] - reference[i]); error += d * d
        }
        return 10 * log10(signal / error)
    }

    @Test(arguments: [3, 7, 17, 21])
    func medianFiltersMatchSortedWindows(kernel: Int) {
        let rows = 23, columns = 45 // not multiples of the eight SIMD lanes
        var generator = SplitMix64(seed: UInt64(kernel))
        // Few distinct values, so ties are common.
        let values = (0..<(rows * columns)).map { _ in Float(generator.next() % 9) }
        let h = kernel / 2
        func clamp(_ i: Int, _ n: Int) -> Int { min(max(i, 0), n - 1) }
        func median(_ window: [Float]) -> Float { window.sorted()[h] }
        let alongRows = MedianFilter.alongRows(values, rows: rows, columns: columns, kernel: kernel)
        let alongColumns = MedianFilter.alongColumns(values, rows: rows, columns: columns, kernel: kernel)
        for r in 0..<rows {
            for c in 0..<columns {
                let time = median((-h...h).map { values[clamp(r + $0, rows) * columns + c] })
                let frequency = median((-h...h).map { values[r * columns + clamp(c + $0, columns)] })
                #expect(alongRows[r * columns + c] == time, "row \(r) column \(c)")
                #expect(alongColumns[r * columns + c] == frequency, "row \(r) column \(c)")
            }
        }
    }

    @Test func stemsAddUpAndVocalsBeatPlainHPSS() {
        let (voice, left, right) = mixture(seconds: 6)
        let audio = AudioBuffer(channels: [left, right], sampleRate: rate)
        let stems = StemSeparator().separate(audio, stems: Set(Stem.allCases))
        for (a, b) in [(Stem.vocals, Stem.accompaniment), (.harmonic, .percussive)] {
            for c in 0..<2 {
                let sum = zip(stems[a]!.channels[c], stems[b]!.channels[c]).map(+)
                #expect(zip(sum, audio.channels[c]).allSatisfy { abs($0 - $1) < 1e-4 }, "\(a) + \(b)")
            }
        }
        let vocals = sdr(stems[.vocals]!.channels[0], voice)
        let baseline = sdr(stems[.harmonic]!.channels[0], voice)
        #expect(vocals > baseline + 3, "vocals \(vocals) dB, HPSS harmonic \(baseline) dB")
    }

    @Test func monoInputIsSeparatedToo() throws {
        let (voice, left, _) = mixture(seconds: 4)
        let out = try Renderer().render(Edit(operations: [.isolate(.vocals)]), AudioBuffer(channels: [left], sampleRate: rate))
        #expect(out.channelCount == 1 && out.frameCount == voice.count)
        #expect(out.channels[0].allSatisfy { $0.isFinite })
    }

    @Test func mixStemsWithZeroGainsGivesTheInputBack() throws {
        let (_, left, right) = mixture(seconds: 3)
        let audio = AudioBuffer(channels: [left, right], sampleRate: rate)
        let out = try Renderer().render(Edit(operations: [.mixStems([.vocals: 0])]), audio)
        #expect(zip(out.channels[1], right).allSatisfy { abs($0 - $1) < 1e-4 })
        let quieter = try Renderer().render(Edit(operations: [.mixStems([.vocals: -60])]), audio)
        let accompaniment = StemSeparator().separate(audio, stems: [.accompaniment])[.accompaniment]!
        #expect(zip(quieter.channels[0], accompaniment.channels[0]).allSatisfy { abs($0 - $1) < 2e-3 })
    }
}

@Suite struct StyleLibraryTests {
    let directory = Signals.repositoryRoot.appendingPathComponent("config/styles").path

    @Test func shippedStylesParseAndDescribeThemselves() throws {
        let (styles, problems) = StyleLibrary(directories: [directory]).list()
        #expect(problems.isEmpty, "\(problems)")
        let names = Set(styles.map(\.name))
        for required in ["lofi-hiphop", "synthwave-80s", "vaporwave", "nightcore", "radio-edit", "karaoke", "acapella"] {
            #expect(names.contains(required), "\(required) missing")
        }
        #expect(styles.allSatisfy { ($0.edit.description ?? "").count > 10 })
        #expect(try StyleLibrary(directories: [directory]).style(named: "karaoke").edit.operations.first == .isolate(.accompaniment))
    }

    @Test func userDirectoryComesFirstAndUnknownNamesListTheRest() throws {
        let user = FileManager.default.temporaryDirectory.appendingPathComponent("styles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: user, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: user) }
        try "description: mine\noperations:\n  - {op: gain, db: -3}\n".write(to: user.appendingPathComponent("nightcore.yaml"), atomically: true, encoding: .utf8)
        try "operations: [{op: nope}]".write(to: user.appendingPathComponent("broken.yml"), atomically: true, encoding: .utf8)
        let library = StyleLibrary(directories: [user.path, directory])
        #expect(try library.style(named: "nightcore").edit.description == "mine")
        let (styles, problems) = library.list()
        #expect(styles.filter { $0.name == "nightcore" }.count == 1)
        #expect(problems.count == 1 && problems.first?.field == "operations[0].op")
        do {
            _ = try library.style(named: "polka")
            Issue.record("found a style that does not exist")
        } catch {
            #expect("\(error)".contains("no style named 'polka'") && "\(error)".contains("vaporwave"))
        }
        #expect(StyleLibrary.standardDirectories(explicit: "/x") == ["/x", "config/styles", "/etc/tracemark/styles"])
    }
}
