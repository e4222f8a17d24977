import Foundation
import Testing

/// The modules' arrows point one way (docs/architecture.md): every module imports only the
/// first-party modules its row there allows and its target declares, and the API layer maps
/// proto ⇄ domain and nothing more — it reaches HubSpot only through GatewayCore's domain
/// (`CRM`), never through HubSpotAPI's client or models. These checks keep the rules from
/// breaking silently (SwiftPM would let a transitive import compile).
@Suite struct LayeringTests {
    /// What each library module may import of the project's own modules (docs/architecture.md).
    static let allowed: [String: Set<String>] = [
        "Time": [],
        "JSONCore": [],
        "JSONLogging": ["JSONCore"],
        "Digests": ["CLibcrypto", "Time"],
        "HubSpotAPI": ["CCurl", "CCurlShim", "JSONCore", "Time"],
        "RedisClient": ["CHiredis", "Time"],
        "GRPCNghttp2Transport": ["CNghttp2"],
        "GRPCStandardServices": [],
        "GRPCInteropTesting": [],
        "GatewayProto": [],
        "GatewayTracing": ["HubSpotAPI", "JSONCore"],
        "HubSpotSimulator": ["JSONCore", "Time", "Digests"],
        "GatewayCore": ["HubSpotAPI", "RedisClient", "Time", "Digests"],
        // HubSpotAPI: the webhooks journal's wire types (its calls go through the door).
        "ChangeFeed": ["GatewayCore", "HubSpotAPI", "JSONCore", "RedisClient", "Time", "Digests"],
        "WriteJobs": ["GatewayCore", "RedisClient"],
        "GatewayAPI": [
            "ChangeFeed", "GatewayCore", "GatewayProto", "Time", "Digests", "WriteJobs",
        ],
        "GatewayREST": ["GatewayCore", "JSONCore", "Time"],
        "GatewayAssembly": [
            "ChangeFeed", "GatewayAPI", "GatewayCore", "GatewayProto", "GatewayREST", "GRPCNghttp2Transport",
            "GRPCStandardServices", "HubSpotAPI", "RedisClient", "Time", "WriteJobs",
        ],
        "GatewayCommandLine": [
            "ChangeFeed", "GatewayAPI", "GatewayAssembly", "GatewayCore", "GatewayREST", "GatewayTracing",
            "GRPCNghttp2Transport", "GRPCStandardServices", "HubSpotAPI", "JSONLogging", "RedisClient", "WriteJobs",
        ],
        // The executables: they parse and run; the assembly is the library's.
        "hubspot-gateway": ["GatewayCommandLine"],
        "hubspot-gateway-sandbox": [
            "ChangeFeed", "GatewayAssembly", "GatewayCommandLine", "GatewayCore", "HubSpotAPI", "HubSpotSimulator",
        ],
        "hubspot-sim": ["HubSpotSimulator"],
        "grpc-interop-server": ["GRPCInteropTesting", "GRPCNghttp2Transport", "GRPCStandardServices"],
    ]

    /// Every module of the project: the folders of Sources/.
    static var firstPartyModules: Set<String> {
        let folders =
            (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources").path)) ?? []
        return Set(folders.map { $0.replacingOccurrences(of: "-", with: "_") })
    }

    /// The quoted (first-party) dependencies of each target in Package.swift, by target name.
    static func declaredDependencies() throws -> [String: Set<String>] {
        let manifest = Array(try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8))
        var declared: [String: Set<String>] = [:]
        let text = String(manifest)
        var searchFrom = text.startIndex
        while let name = text.range(of: "name: \"", range: searchFrom..<text.endIndex) {
            searchFrom = name.upperBound
            guard let close = text[name.upperBound...].firstIndex(of: "\"") else { break }
            let target = String(text[name.upperBound..<close])
            // Only a target's own `dependencies: [` right after its name (not a product's).
            let rest = text[close...]
            guard let next = rest.range(of: "dependencies: ["),
                rest[rest.startIndex..<next.lowerBound].range(of: "name: ") == nil
            else {
                declared[target, default: []] = declared[target] ?? []
                continue
            }
            var depth = 1
            var index = next.upperBound
            var inner = ""
            while depth > 0, index < text.endIndex {
                let character = text[index]
                if character == "[" { depth += 1 }
                if character == "]" { depth -= 1 }
                if depth > 0 { inner.append(character) }
                index = text.index(after: index)
            }
            // `.product(name: …)` entries are other packages'.
            let withoutProducts = inner.replacing(/\.product\([^)]*\)/, with: "")
            declared[target] = Set(withoutProducts.matches(of: /"([^"]+)"/).map { String($0.output.1) })
        }
        return declared
    }

    @Test(arguments: allowed.keys.sorted())
    func aModuleImportsOnlyTheFirstPartyModulesItDeclaresAndTheArchitectureAllows(_ module: String) throws {
        let folder = Self.root.appendingPathComponent("Sources/\(module)")
        let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(!files.isEmpty, "Sources/\(module) has no Swift files")
        let declared = try #require(try Self.declaredDependencies()[module], "no \(module) target in Package.swift")
        let firstParty = Self.firstPartyModules
        for file in files {
            let imported = Self.importedModules(try String(contentsOf: file, encoding: .utf8))
                .intersection(firstParty).subtracting([module])
            for dependency in imported.sorted() {
                #expect(
                    declared.contains(dependency),
                    "\(module)/\(file.lastPathComponent) imports \(dependency), which its target does not declare")
                #expect(
                    Self.allowed[module]!.contains(dependency),
                    "\(module)/\(file.lastPathComponent) imports \(dependency): not an arrow of docs/architecture.md")
            }
        }
    }

    @Test func everySwiftModuleHasARowInTheArchitecture() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        var libraries = Set<String>()
        for folder in try FileManager.default.contentsOfDirectory(atPath: sources.path) {
            let files =
                FileManager.default.enumerator(atPath: sources.appendingPathComponent(folder).path)?
                .compactMap { $0 as? String } ?? []
            if files.contains(where: { $0.hasSuffix(".swift") }) { libraries.insert(folder) }
        }
        let missing = libraries.subtracting(Self.allowed.keys)
        #expect(missing.isEmpty, "modules without a row in docs/architecture.md and `allowed`: \(missing.sorted())")
    }

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
