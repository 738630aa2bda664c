// swift-tools-version:6.2
// libFuzzer harness for the audio decode path (Sources/Audio), apart from the main package so that
// its build is unaffected. Built and run by tools/fuzz/decode/run (`--help`), which passes
// `-sanitize=fuzzer` (and the address sanitizer) and keeps its build under var/.
import Foundation
import PackageDescription

// The repository root, depended on by path; its identity is the name of its directory.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "DecodeFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
    ],
    targets: [
        // LLVMFuzzerTestOneInput; libFuzzer supplies `main`, hence -parse-as-library.
        .executableTarget(
            name: "DecodeFuzzer",
            dependencies: [.product(name: "TracemarkAudio", package: root.lastPathComponent)],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
