import Foundation
import Testing

/// The container image, as far as a machine without a Docker engine can
/// check it: the runtime stage of the Dockerfile installs exactly the
/// shared libraries the `sluice` binary links (found with `readelf` and
/// `ldd`, owned by Debian packages per `dpkg -S`), and the build links the
/// Swift runtime in.
@Suite struct DockerfileTests {
    static let dockerfile = URL(fileURLWithPath: Services.root).appendingPathComponent("Dockerfile")
    /// What debian:bookworm-slim has without installing anything.
    static let basePackages: Set<String> = ["libc6"]
    /// Packages the runtime stage installs for something other than linking.
    static let nonLibraryPackages: Set<String> = ["ca-certificates"]

    /// The runtime stage: everything after the last `FROM`.
    static func runtimeStage() throws -> String {
        let text = try String(contentsOf: dockerfile, encoding: .utf8)
        return String(text[try #require(text.range(of: "\nFROM ", options: .backwards)).lowerBound...])
    }

    /// The packages an `apt-get install` of `stage` names.
    static func installedPackages(_ stage: String) -> Set<String> {
        let joined = stage.replacingOccurrences(of: "\\\n", with: " ")
        var out: Set<String> = []
        for line in joined.split(separator: "\n") where line.contains("apt-get install") {
            let command = line[line.range(of: "apt-get install")!.upperBound...].split(separator: "&&").first ?? ""
            out.formUnion(command.split(separator: " ").filter { !$0.hasPrefix("-") }.map(String.init))
        }
        return out
    }

    private func output(of executable: String, _ arguments: [String]) throws -> (status: Int32, text: String) {
        let path = Services.temporaryDirectory() + "/output"
        let child = try ChildProcess(executable, arguments: arguments, environment: ProcessInfo.processInfo.environment, outputPath: path)
        let status = child.waitUntilExit()
        return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// The Debian package that owns `path` (tried as resolved and across the /usr merge).
    private func owner(of path: String) throws -> String? {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        for candidate in [path, real, real.hasPrefix("/usr") ? String(real.dropFirst(4)) : "/usr" + real] {
            let result = try output(of: "/usr/bin/dpkg", ["-S", candidate])
            if result.status == 0, let package = result.text.split(separator: ":").first { return String(package) }
        }
        return nil
    }

    @Test func theRuntimeImageInstallsExactlyThePackagesOfTheLibrariesTheBinaryLinks() throws {
        let binary = binaryPath("sluice")
        let needed = try output(of: "/usr/bin/readelf", ["-d", binary]).text.split(separator: "\n")
            .compactMap { line in line.contains("(NEEDED)") ? line.split(separator: "[").last?.dropLast().description : nil }
        #expect(needed.contains("librdkafka.so.1") && needed.contains("librocksdb.so.7.8"), "\(needed)")
        let resolved = Dictionary(try output(of: "/usr/bin/ldd", [binary]).text.split(separator: "\n").compactMap { line in
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 3, parts[1] == "=>" { return (String(parts[0]), String(parts[2])) }
            // The dynamic loader is listed by its path alone.
            return parts.first?.hasPrefix("/") == true ? (String(parts[0].split(separator: "/").last!), String(parts[0])) : nil
        }) { first, _ in first }

        let stage = try Self.runtimeStage()
        let installed = Self.installedPackages(stage)
        var used: Set<String> = []
        for library in needed {
            // The build links the Swift runtime and Foundation statically.
            if library.hasPrefix("libswift") || library.hasPrefix("libFoundation") || library.hasPrefix("lib_Foundation")
                || library == "libdispatch.so" || library == "libBlocksRuntime.so" { continue }
            if stage.contains("/usr/local/lib/\(library)") { continue }
            let path = try #require(resolved[library], "ldd resolves \(library)")
            let package = try #require(try owner(of: path), "a Debian package owns \(path)")
            used.insert(package)
            #expect(installed.contains(package) || Self.basePackages.contains(package),
                    "\(library) comes from \(package), which the runtime stage installs")
        }
        #expect(installed.subtracting(used).subtracting(Self.nonLibraryPackages).isEmpty,
                "the runtime stage installs only what the binary links: \(installed.subtracting(used))")
        let dockerfile = try String(contentsOf: Self.dockerfile, encoding: .utf8)
        #expect(dockerfile.contains("--static-swift-stdlib"), "the runtime image has no Swift toolchain")
        #expect(stage.contains("COPY --from=build /opt/librdkafka.so.1 /usr/local/lib/librdkafka.so.1"),
                "librdkafka comes from the build stage, as scripts/install.sh takes it")
    }
}
