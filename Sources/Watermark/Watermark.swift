import Audio

/// Watermarks: a 128-bit mark embedded inaudibly in audio and recovered from excerpts, and the
/// signed, encrypted issuance payload it points to. Pure: no database, no network.
///
/// Issuing: `MarkKey.mark(serial:)` -> `WatermarkEmbedder.embed(_:into:)` -> `Certificate.issue`.
/// Auditing: `WatermarkDetector.detect(_:)` -> serial -> the ledger's certificate -> `Certificate.open`.
public enum Watermark {
    /// Marks `audio` with the mark of `serial` under `key`.
    public static func embed(serial: UInt64, key: MarkKey, into audio: AudioBuffer,
                             embedder: WatermarkEmbedder = WatermarkEmbedder()) throws -> (audio: AudioBuffer, report: EmbeddingReport) {
        try embedder.embed(key.mark(serial: serial), into: audio)
    }
}
