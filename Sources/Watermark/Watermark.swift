/// Watermarks: a 128-bit mark embedded inaudibly in audio and recovered from excerpts, and the
/// signed, encrypted issuance payload it points to. Pure: no database, no network.
public enum Watermark {}
