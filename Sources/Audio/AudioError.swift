/// Why a piece of audio could not be read. Messages name the input and say what to do.
public enum AudioError: Error, Equatable, CustomStringConvertible {
    case unreadable(source: String, reason: String)
    case empty(source: String)
    case tooLong(source: String, seconds: Double, limit: Double)
    case unsupportedLayout(source: String, reason: String)
    case resampling(reason: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): not readable audio (\(reason)); formats read: WAV, FLAC, Ogg Vorbis, Opus, MP3"
        case let .empty(source):
            return "\(source): contains no audio samples"
        case let .tooLong(source, seconds, limit):
            return "\(source): \(Int(seconds)) s of audio is over the limit of \(Int(limit)) s"
        case let .unsupportedLayout(source, reason):
            return "\(source): \(reason)"
        case let .resampling(reason):
            return "resampling failed: \(reason)"
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}
