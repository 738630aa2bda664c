// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tracemark",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tracemark", targets: ["tracemark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
        .target(name: "Registry", dependencies: ["CLibPQ", "Fingerprint"],
                resources: [.copy("schema")]),
        .executableTarget(name: "tracemark", dependencies: [
            "Audio", "Spectral", "Fingerprint", "Registry",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Generated test audio and a throwaway PostgreSQL cluster shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Registry", "Audio"], path: "Tests/TestSupport"),
        .testTarget(name: "AudioTests", dependencies: ["Audio", "TestSupport"]),
        .testTarget(name: "SpectralTests", dependencies: ["Spectral"]),
        .testTarget(name: "FingerprintTests", dependencies: ["Fingerprint", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Fingerprint", "TestSupport"]),
        // Drives the built `tracemark` executable against a real PostgreSQL.
        .testTarget(name: "TracemarkTests", dependencies: ["Registry", "Audio", "TestSupport"]),
    ]
)
