#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging
import NIOSSL
import Synchronization

/// A server TLS context built from PEM files and built again when their contents change (a
/// Kubernetes Secret updated by cert-manager), for `Nghttp2ServerTransportConfiguration.TLS`.
/// Connections keep the context they started with; new ones get the current one.
public final class ReloadingServerTLSContext: Sendable {
    public struct Files: Sendable, Equatable {
        public var certificateChain: String
        public var privateKey: String
        /// CAs whose client certificates are accepted; set: every client must present one (mTLS).
        public var clientCA: String?

        public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
            self.clientCA = clientCA
        }
    }

    public let files: Files
    private let logger: Logger
    private struct State {
        var context: NIOSSLContext
        var contents: [[UInt8]]
    }
    private let state: Mutex<State>

    /// Reads the files; throws with a message naming the file when one cannot be used.
    public init(files: Files, logger: Logger = Logger(label: "tls")) throws {
        self.files = files
        self.logger = logger
        let contents = try Self.read(files)
        state = Mutex(State(context: try Self.makeContext(files, contents), contents: contents))
    }

    /// The context for a new connection.
    public var current: NIOSSLContext { state.withLock { $0.context } }

    /// Reads the files again and builds a new context if they changed. A change that does not
    /// make a usable context (a key that does not match its certificate, a half-written file)
    /// keeps the old context and throws; the next check tries again. Returns whether it reloaded.
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let contents = try Self.read(files)
        guard contents != state.withLock({ $0.contents }) else { return false }
        let context = try Self.makeContext(files, contents)
        state.withLock { $0 = State(context: context, contents: contents) }
        logger.info("TLS certificate reloaded", metadata: ["certificate": "\(files.certificateChain)"])
        return true
    }

    private static func read(_ files: Files) throws -> [[UInt8]] {
        try [files.certificateChain, files.privateKey, files.clientCA].compactMap { $0 }.map { path in
            do {
                return try readFile(path)
            } catch {
                throw TLSFileError(path: path, problem: "cannot be read: \(error)")
            }
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw TLSFileError(path: path, problem: "errno \(errno)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    private static func makeContext(_ files: Files, _ contents: [[UInt8]]) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(contents[0])
        } catch {
            throw TLSFileError(path: files.certificateChain, problem: "is not a PEM certificate chain: \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(bytes: contents[1], format: .pem)
        } catch {
            throw TLSFileError(path: files.privateKey, problem: "is not a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2"]
        if let clientCA = files.clientCA {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(contents[2]))
            } catch {
                throw TLSFileError(path: clientCA, problem: "is not a PEM CA bundle: \(error)")
            }
            // Clients are not reached by name: their chain is checked, their identity read.
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSFileError(
                path: files.certificateChain,
                problem: "and its key do not make a TLS context (do they match?): \(error)")
        }
    }
}

/// A certificate, key or CA file that cannot be used.
public struct TLSFileError: Error, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "TLS file \(path) \(problem)" }
}
