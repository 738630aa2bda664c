// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Tracemark",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tracemark", targets: ["tracemark"]),
        .executable(name: "tracemark-watermark-tool", targets: ["WatermarkTool"]),
        // The decoder alone, for the libFuzzer harness in tools/fuzz/decode (its own package).
        .library(name: "TracemarkAudio", targets: ["Audio"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: a modulemap and one shim header each (Debian's -dev packages).
        .systemLibrary(name: "CFFTW", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSndFile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSampleRate", providers: [.apt(["libsamplerate0-dev"])]),

        .target(name: "Audio", dependencies: ["CSndFile", "CSampleRate", "COpenSSL"]),
        .target(name: "Spectral", dependencies: ["CFFTW"]),
        .target(name: "Fingerprint", dependencies: ["Spectral"]),
        .target(name: "Rights"),
        .target(name: "Registry", dependencies: ["CLibPQ", "Fingerprint", "Rights", "Watermark"],
                resources: [.copy("schema")]),
        // The remix engine: edit descriptions and their renderer, effects, stem isolation, styles (pure DSP).
        .target(name: "Remix", dependencies: ["Audio", "Spectral", .product(name: "Yams", package: "Yams")]),
        // Watermarks: the mark in the audio (DSP) and the signed, encrypted payload (OpenSSL EVP). Pure.
        .target(name: "Watermark", dependencies: ["Audio", "Spectral", "COpenSSL"]),
        // Embeds and detects marks on files for the robustness harness (tools/eval-watermark).
        .executableTarget(name: "WatermarkTool", dependencies: ["Watermark", "Audio"]),
        // SVG pictures of fingerprints and matches, written here (no drawing library).
        .target(name: "Pictures", dependencies: ["Fingerprint", "Spectral"]),
        .target(name: "Daemon", dependencies: [
            "Audio", "Fingerprint", "Pictures", "Registry", "Remix", "Rights", "Watermark",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "tracemark", dependencies: [
            "Audio", "Spectral", "Fingerprint", "Pictures", "Registry", "Rights", "Daemon", "Remix", "Watermark",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Generated test audio and a throwaway PostgreSQL cluster shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Registry", "Audio", "Daemon"], path: "Tests/TestSupport"),
        .testTarget(name: "AudioTests", dependencies: ["Audio", "TestSupport"]),
        .testTarget(name: "SpectralTests", dependencies: ["Spectral"]),
        .testTarget(name: "FingerprintTests", dependencies: ["Fingerprint", "TestSupport", "Remix", "Audio"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Fingerprint", "Rights", "Watermark", "TestSupport"]),
        // Drives the built `tracemark` executable against a real PostgreSQL.
        .testTarget(name: "TracemarkTests", dependencies: ["Registry", "Audio", "Daemon", "TestSupport"]),
        .testTarget(name: "RightsTests", dependencies: ["Rights"]),
        .testTarget(name: "WatermarkTests", dependencies: ["Watermark", "Audio"]),
        .testTarget(name: "RemixTests", dependencies: ["Remix", "Audio", "TestSupport"]),
        // The daemon's routes through a real socket, checked against docs/openapi.yaml.
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "Registry", "Audio", "Watermark", "TestSupport",
            .product(name: "Yams", package: "Yams"),
        ]),
    ]
)
