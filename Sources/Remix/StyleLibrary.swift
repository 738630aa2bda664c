import Foundation

/// Style presets: edit files named `<style>.yaml` (or .yml/.json) in a list of directories, the
/// first directory holding a name winning. Users add a style by dropping a file in one of them.
public struct StyleLibrary: Sendable {
    public struct Style: Sendable {
        /// The file name without its extension.
        public var name: String
        public var path: String
        public var edit: Edit
        /// The edit's `description`, or a placeholder when it has none.
        public var summary: String { edit.description ?? "(no description)" }
    }

    /// Directories searched, in order.
    public var directories: [String]

    public init(directories: [String]) {
        self.directories = directories
    }

    /// `explicit` (a --styles-dir option) first, then ./config/styles, then /etc/tracemark/styles.
    public static func standardDirectories(explicit: String? = nil) -> [String] {
        (explicit.map { [$0] } ?? []) + ["config/styles", "/etc/tracemark/styles"]
    }

    static let extensions = ["yaml", "yml", "json"]

    /// Every style found, by name. A file that does not parse is reported in `problems` rather
    /// than hiding the others.
    public func list() -> (styles: [Style], problems: [EditError]) {
        var seen = Set<String>()
        var styles: [Style] = [], problems: [EditError] = []
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for file in names.sorted() {
                let url = URL(fileURLWithPath: directory).appendingPathComponent(file)
                guard Self.extensions.contains(url.pathExtension.lowercased()) else { continue }
                let name = url.deletingPathExtension().lastPathComponent
                if seen.contains(name) { continue }
                seen.insert(name)
                do { styles.append(try Self.read(name: name, path: url.path)) } catch let error as EditError {
                    problems.append(error)
                } catch {
                    problems.append(.syntax(source: url.path, reason: "\(error)"))
                }
            }
        }
        return (styles, problems)
    }

    /// The style called `name`; an unknown name lists the ones there are.
    public func style(named name: String) throws -> Style {
        for directory in directories {
            for ext in Self.extensions {
                let path = URL(fileURLWithPath: directory).appendingPathComponent("\(name).\(ext)").path
                if FileManager.default.fileExists(atPath: path) { return try Self.read(name: name, path: path) }
            }
        }
        throw EditError.unknownStyle(name: name, searched: directories, available: list().styles.map(\.name))
    }

    static func read(name: String, path: String) throws -> Style {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw EditError.syntax(source: path, reason: "cannot be read as UTF-8 text")
        }
        return Style(name: name, path: path, edit: try EditParser.parse(text, source: path))
    }

    /// Reads an edit file (YAML or JSON).
    public static func readEdit(path: String) throws -> Edit {
        try read(name: "", path: path).edit
    }
}
