import ArgumentParser
import Daemon
import Foundation

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, rotate and list the registry's watermark keys.",
        discussion: """
            Keys live in <data-dir>/keys/: an Ed25519 signing key and a secret mark key (both mode \
            0600; the daemon refuses to start when either is readable by others) and the auditor's \
            X25519 public key. The auditor's private key is written only to the path given with \
            --auditor-out, to be kept off this host. Rotation adds keys and keeps the old ones for \
            verification.

            Examples:
              tracemark keys init --auditor-out /media/usb/auditor.pem
              tracemark keys init --auditor-public auditor.pub.pem
              tracemark keys rotate
              tracemark keys list
            """,
        subcommands: [KeysInitCommand.self, KeysRotateCommand.self, KeysListCommand.self])
}

/// Where the auditor's key comes from, for `init` and `rotate`.
struct AuditorKeyOptions: ParsableArguments {
    @Option(name: .customLong("auditor-out"),
            help: ArgumentHelp("Write a new auditor private key to this file (mode 0600), outside the data directory.", valueName: "file"))
    var auditorOut: String?

    @Option(name: .customLong("auditor-public"),
            help: ArgumentHelp("Encrypt to this existing auditor X25519 public key (PEM) instead.", valueName: "file"))
    var auditorPublic: String?
}

struct KeysInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create the first keys.",
        discussion: "Example:\n  tracemark keys init --auditor-out /media/usb/auditor.pem")

    @OptionGroup var auditor: AuditorKeyOptions
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let store = KeyStore(dataDirectory: registry.resolvedDataDirectory)
        do {
            printKeys(try store.initialize(auditorOut: auditor.auditorOut, auditorPublic: auditor.auditorPublic))
            if let out = auditor.auditorOut { print("auditor private key written to \(out): move it off this host") }
        } catch {
            throw ValidationFailure("\(error)")
        }
    }
}

struct KeysRotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Add new signing and mark keys (and an auditor key if given); keep the old ones.",
        discussion: "Examples:\n  tracemark keys rotate\n  tracemark keys rotate --auditor-public new-auditor.pub.pem")

    @OptionGroup var auditor: AuditorKeyOptions
    @OptionGroup var registry: RegistryOptions

    func run() throws {
        do {
            printKeys(try KeyStore(dataDirectory: registry.resolvedDataDirectory)
                .rotate(auditorOut: auditor.auditorOut, auditorPublic: auditor.auditorPublic))
        } catch {
            throw ValidationFailure("\(error)")
        }
    }
}

struct KeysListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The keys, the ones in use marked with *.",
        discussion: "Example:\n  tracemark keys list --data-dir /srv/tracemark")

    @OptionGroup var registry: RegistryOptions

    func run() throws {
        let store = KeyStore(dataDirectory: registry.resolvedDataDirectory)
        guard store.exists else { throw ValidationFailure("\(KeyStoreError.missing(store.directory))") }
        do { printKeys(try store.entries()) } catch { throw ValidationFailure("\(error)") }
    }
}

private func printKeys(_ entries: [KeyStore.Entry]) {
    for entry in entries {
        print("\(entry.isCurrent ? "*" : " ") \(entry.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(entry.id)  \(entry.path)")
    }
}
