import Testing
@testable import Remix

@Suite struct EditParserTests {
    func field(of text: String) -> String? {
        do {
            _ = try EditParser.parse(text, source: "edit.yaml")
            return nil
        } catch let error as EditError {
            return error.field ?? "\(error)"
        } catch {
            return "\(error)"
        }
    }

    @Test func readsEveryOperation() throws {
        let text = """
            name: all
            description: every operation once
            operations:
              - {op: trim, start_s: 1, end_s: 9}
              - {op: fade_in, duration_s: 0.5, curve: linear}
              - {op: fade_out, duration_s: 1}
              - {op: gain, db: -3}
              - {op: normalize_loudness, target_lufs: -16}
              - {op: filter, type: lowpass, frequency_hz: 4000, q: 0.9}
              - op: eq
                bands:
                  - {type: lowshelf, frequency_hz: 120, gain_db: 3}
                  - {type: peaking, frequency_hz: 2500, q: 1.2, gain_db: -2}
              - {op: compressor, threshold_db: -18, ratio: 3}
              - {op: limiter, ceiling_db: -0.5}
              - {op: saturation, drive_db: 6}
              - {op: bitcrush, bits: 10, sample_rate_hz: 16000}
              - {op: chorus, voices: 3}
              - {op: reverb, room_size: 0.5}
              - {op: gated_reverb, hold_ms: 200}
              - {op: wow_flutter}
              - {op: vinyl, seed: 3}
              - {op: speed, ratio: 1.1}
              - {op: tempo, ratio: 0.9}
              - {op: pitch, semitones: -2}
              - {op: reverse}
              - {op: loop, start_s: 1, end_s: 3, count: 4}
              - {op: isolate, stem: vocals}
              - {op: mix_stems, gains_db: {vocals: -6}}
            """
        let edit = try EditParser.parse(text, source: "all.yaml")
        #expect(edit.name == "all")
        #expect(edit.operations.count == 23)
        #expect(edit.operations[0] == .trim(start: 1, end: 9))
        #expect(edit.operations[6] == .filter([FilterBand(kind: .lowshelf, frequency: 120, gainDecibels: 3),
                                               FilterBand(kind: .peaking, frequency: 2500, q: 1.2, gainDecibels: -2)]))
        #expect(edit.operations[18] == .pitch(semitones: -2))
        #expect(edit.operations[22] == .mixStems([.vocals: -6]))
        #expect(Set(edit.operations.map(\.name)).count == EditParser.operationNames.count)
    }

    @Test func readsJSON() throws {
        let edit = try EditParser.parse(#"{"operations": [{"op": "gain", "db": 6}, {"op": "tempo", "ratio": 1.5}]}"#, source: "e.json")
        #expect(edit.operations == [.gain(decibels: 6), .tempo(ratio: 1.5)])
    }

    @Test func errorsNameTheField() {
        #expect(field(of: "operations:\n  - {op: filter, type: lowpass}") == "operations[0].frequency_hz")
        #expect(field(of: "operations:\n  - {op: gain, db: 1}\n  - {op: filter, type: lowpass, frequency_hz: 100, q: 0}") == "operations[1].q")
        #expect(field(of: "operations:\n  - {op: filter, type: bandstop, frequency_hz: 100}") == "operations[0].type")
        #expect(field(of: "operations:\n  - {op: tempo, ratio: fast}") == "operations[0].ratio")
        #expect(field(of: "operations:\n  - {op: tempo, ratio: 1.2, cutoff: 3}") == "operations[0].cutoff")
        #expect(field(of: "operations:\n  - {op: flange}") == "operations[0].op")
        #expect(field(of: "operations:\n  - {ratio: 2}") == "operations[0].op")
        #expect(field(of: "operations:\n  - op: eq\n    bands:\n      - {type: peaking, frequency_hz: 1000}\n      - {type: peaking, frequency_hz: 2000, gain_db: 99}") == "operations[0].bands[1].gain_db")
        #expect(field(of: "operations:\n  - {op: trim, start_s: 5, end_s: 2}") == "operations[0].end_s")
        #expect(field(of: "operations:\n  - {op: mix_stems, gains_db: {vocals: -3, percussive: 2}}") == "operations[0].gains_db")
        #expect(field(of: "operations:\n  - {op: isolate, stem: drums}") == "operations[0].stem")
        #expect(field(of: "operations: {op: gain}") == "operations")
        #expect(field(of: "operation:\n  - {op: gain, db: 1}") == "operations")
        #expect(field(of: "description: x\noperations: []\nextra: 1") == "extra")
    }

    @Test func messagesSayWhereAndWhat() {
        do {
            _ = try EditParser.parse("operations:\n  - op: pitch\n    semitones: 40\n", source: "mine.yaml")
            Issue.record("accepted an out-of-range pitch")
        } catch {
            #expect("\(error)" == "mine.yaml: operations[0].semitones (line 3): 40 is outside -24...24")
        }
        do {
            _ = try EditParser.parse("operations: [ {op: gain, db: 1 ]", source: "broken.yaml")
            Issue.record("accepted broken YAML")
        } catch let error as EditError {
            guard case .syntax(let source, _) = error else { Issue.record("expected a syntax error, got \(error)"); return }
            #expect(source == "broken.yaml")
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}
