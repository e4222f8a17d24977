import Foundation
import Testing

/// The API layer maps proto ⇄ domain and nothing more: it reaches HubSpot only through
/// GatewayCore's domain (`CRM`), never through HubSpotAPI's client or models. These checks
/// keep that rule from breaking silently (SwiftPM would let a transitive import compile).
@Suite struct LayeringTests {
    /// Modules the API layer must not import, and why.
    static let forbidden = [
        "HubSpotAPI": "HubSpot's client and wire models live below the domain (GatewayCore)",
        "RedisClient": "shared state belongs to GatewayCore",
        "CCurl": "HTTPS to HubSpot belongs to HubSpotAPI",
    ]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The modules a Swift file imports, however the import is spelled (`@testable`,
    /// `@_exported`, `import struct M.T`).
    static func importedModules(_ source: String) -> Set<String> {
        var modules = Set<String>()
        for line in source.split(separator: "\n", omittingEmptySubsequences: true) {
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })[...]
            while let first = words.first, first.hasPrefix("@") { words = words.dropFirst() }
            guard words.first == "import", words.count >= 2 else { continue }
            words = words.dropFirst()
            let kinds: Set<Substring> = ["class", "struct", "enum", "protocol", "func", "var", "let", "typealias"]
            if let kind = words.first, kinds.contains(kind) { words = words.dropFirst() }
            guard let path = words.first else { continue }
            modules.insert(String(path.split(separator: ".").first ?? path))
        }
        return modules
    }

    @Test func theImportScannerSeesEverySpellingOfAnImport() {
        let source = """
            import GatewayCore
            @_exported import HubSpotAPI
              @testable import RedisClient
            import struct CCurl.CURL
            // import NotReally
            let text = "import Quoted"
            """
        #expect(Self.importedModules(source) == ["GatewayCore", "HubSpotAPI", "RedisClient", "CCurl"])
    }

    /// The API layers: gRPC and REST.
    static let apiLayers = ["GatewayAPI", "GatewayREST"]

    @Test(arguments: apiLayers) func apiSourcesImportNothingBelowTheDomain(_ layer: String) throws {
        let folder = Self.root.appendingPathComponent("Sources/\(layer)")
        let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 3, "Sources/\(layer) was not found at \(folder.path)")
        for file in files {
            let imported = Self.importedModules(try String(contentsOf: file, encoding: .utf8))
            for (module, reason) in Self.forbidden where imported.contains(module) {
                Issue.record("\(file.lastPathComponent) imports \(module): \(reason); use GatewayCore's CRM")
            }
        }
    }

    @Test(arguments: apiLayers) func apiTargetDoesNotDependOnModulesBelowTheDomain(_ layer: String) throws {
        let manifest = try String(
            contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let start = try #require(manifest.range(of: "name: \"\(layer)\","), "no \(layer) target in Package.swift")
        let dependencies = try #require(manifest[start.upperBound...].range(of: "dependencies: ["))
        let end = try #require(manifest[dependencies.upperBound...].range(of: "]"))
        let listed = manifest[dependencies.upperBound..<end.lowerBound]
        for module in Self.forbidden.keys {
            #expect(!listed.contains("\"\(module)\""), "the \(layer) target depends on \(module)")
        }
    }

    @Test func gatewayCoreReexportsNothing() throws {
        let folder = Self.root.appendingPathComponent("Sources/GatewayCore")
        let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        for file in files {
            let source = try String(contentsOf: file, encoding: .utf8)
            #expect(!source.contains("@_exported"), "\(file.lastPathComponent) re-exports a module to the API layer")
        }
    }
}
