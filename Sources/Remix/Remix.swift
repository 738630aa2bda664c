/// The remix engine: edits, effects, tempo and pitch, stem isolation and style presets.
/// Pure DSP on `Audio` buffers with `Spectral` FFTs; no database, no network.
public enum Remix {}
