import ArgumentParser
import Foundation
import Remix

struct StylesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "styles",
        abstract: "List the style presets that `tracemark remix --style` accepts.",
        discussion: """
            Styles are edit files (YAML or JSON, `<name>.yaml`) in --styles-dir, then \
            ./config/styles, then /etc/tracemark/styles; the first file with a name wins, so a \
            user's file can replace a shipped one. Add a style by adding a file.

            Examples:
              tracemark styles
              tracemark styles --styles-dir ~/my-styles
            """)

    @Option(name: .customLong("styles-dir"), help: ArgumentHelp("A directory of style files searched before the standard ones.", valueName: "dir"))
    var stylesDirectory: String?

    @Flag(help: "Also print the file each style comes from.")
    var verbose = false

    func run() throws {
        let directories = StyleLibrary.standardDirectories(explicit: stylesDirectory)
        let (styles, problems) = StyleLibrary(directories: directories).list()
        for problem in problems { printError("skipped: \(problem)") }
        guard !styles.isEmpty else {
            throw ValidationFailure("no styles found in \(directories.joined(separator: ", "))")
        }
        let width = styles.map(\.name.count).max() ?? 0
        for style in styles {
            let padded = style.name.padding(toLength: width, withPad: " ", startingAt: 0)
            print("\(padded)  \(style.summary)\(verbose ? "  [\(style.path)]" : "")")
        }
    }
}
