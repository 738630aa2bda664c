import Audio
import Foundation
import Watermark

// A small driver for the robustness harness (tools/eval-watermark): embed and detect on files,
// one JSON object per line. The operator-facing commands live in `tracemark`.

let usage = """
usage: tracemark-watermark-tool embed IN OUT --key-hex HEX --serial N [--step S]
       tracemark-watermark-tool detect IN... --key-hex HEX [--serial N] [--step S]
       tracemark-watermark-tool mark --key-hex HEX --serial N
  embed   writes OUT (format from its extension) carrying the mark of serial N; prints SWR and speed
  detect  prints, per file, whether a mark authenticates, its serial, and with --serial the bit
          errors of the best decoded mark against the expected one
"""

/// CPU time of this thread, in seconds: the figure that stays meaningful on a shared machine.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

struct ToolError: Error, CustomStringConvertible { let description: String }

func json(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func run() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let command = arguments.first else { throw ToolError(description: usage) }
    arguments.removeFirst()
    var positional: [String] = []
    var options: [String: String] = [:]
    var i = 0
    while i < arguments.count {
        if arguments[i].hasPrefix("--") {
            guard i + 1 < arguments.count else { throw ToolError(description: "\(arguments[i]) needs a value\n\(usage)") }
            options[String(arguments[i].dropFirst(2))] = arguments[i + 1]
            i += 2
        } else {
            positional.append(arguments[i])
            i += 1
        }
    }
    guard let keyHex = options["key-hex"] else { throw ToolError(description: "--key-hex is required\n\(usage)") }
    let key = try MarkKey(hex: keyHex)
    let serial = try options["serial"].map { text -> UInt64 in
        guard let value = UInt64(text) else { throw ToolError(description: "--serial \(text): not an unsigned integer") }
        return value
    }
    let step = options["step"].flatMap(Float.init) ?? WatermarkEmbedder.defaultStep
    let clock = ContinuousClock()

    switch command {
    case "mark":
        guard let serial else { throw ToolError(description: "--serial is required") }
        print(json(["mark": try key.mark(serial: serial).hex, "serial": serial]))
    case "embed":
        guard positional.count == 2, let serial else { throw ToolError(description: usage) }
        let input = try AudioDecoder.decodeMultichannel(path: positional[0])
        let start = clock.now
        let cpuStart = threadCPUSeconds()
        let (marked, report) = try WatermarkEmbedder(step: step).embed(key.mark(serial: serial), into: input)
        let elapsed = clock.now - start
        let cpu = threadCPUSeconds() - cpuStart
        try AudioWriter.write(marked, to: positional[1])
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print(json(["file": positional[1], "swr_db": report.signalToWatermarkDB, "duration_s": input.duration,
                    "embed_s": seconds, "realtime": input.duration / seconds,
                    "cpu_s": cpu, "realtime_cpu": input.duration / cpu, "step": Double(report.step)]))
    case "detect":
        guard !positional.isEmpty else { throw ToolError(description: usage) }
        let detector = WatermarkDetector(markKeys: [key], step: step)
        let expected = try serial.map { try key.mark(serial: $0) }
        for path in positional {
            let input = try AudioDecoder.decodeMultichannel(path: path)
            let start = clock.now
            let cpuStart = threadCPUSeconds()
            let detection = try detector.detect(input)
            let elapsed = clock.now - start
            let cpu = threadCPUSeconds() - cpuStart
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            var out: [String: Any] = ["file": path, "found": detection.isFound, "speed": detection.speed,
                                      "sync": detection.syncScore, "candidates": detection.candidatesTried,
                                      "duration_s": input.duration, "detect_s": seconds, "realtime": input.duration / seconds,
                                      "cpu_s": cpu, "realtime_cpu": input.duration / cpu]
            if let s = detection.serial { out["serial"] = s }
            if let mark = detection.mark { out["mark"] = mark.hex }
            if let expected, let mark = detection.mark { out["bit_errors"] = mark.bitErrors(against: expected) }
            print(json(out))
        }
    default:
        throw ToolError(description: usage)
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("tracemark-watermark-tool: \(error)\n".utf8))
    exit(1)
}
