import Foundation
import GRPCNghttp2Transport
import Testing
import TestSupport

@Suite struct ReloadingServerTLSContextTests {
    @Test func aRenewedCertificateMakesANewContextAndUnchangedFilesDoNot() async throws {
        let certificates = try await TestCertificates.make()
        let context = try ReloadingServerTLSContext(
            files: .init(
                certificateChain: certificates.serverCertificateFile, privateKey: certificates.serverKeyFile,
                clientCA: certificates.caFile))
        let first = context.current
        #expect(try context.reloadIfChanged() == false)
        #expect(context.current === first)
        try certificates.renewServerCertificate()
        #expect(try context.reloadIfChanged() == true)
        #expect(context.current !== first)
    }

    @Test func aHalfWrittenOrMismatchedFileKeepsTheOldContextAndSaysWhichFile() async throws {
        let certificates = try await TestCertificates.make()
        let context = try ReloadingServerTLSContext(
            files: .init(certificateChain: certificates.serverCertificateFile, privateKey: certificates.serverKeyFile))
        let first = context.current
        let goodKey = try Data(contentsOf: URL(fileURLWithPath: certificates.serverKeyFile))
        try Data("-----BEGIN PRIVATE KEY-----\nMIIE".utf8).write(to: URL(fileURLWithPath: certificates.serverKeyFile))
        #expect {
            try context.reloadIfChanged()
        } throws: { error in
            (error as? TLSFileError)?.path == certificates.serverKeyFile
        }
        #expect(context.current === first)
        // The next check with good files reloads (the certificate did not change: same context data).
        try goodKey.write(to: URL(fileURLWithPath: certificates.serverKeyFile))
        #expect(try context.reloadIfChanged() == false)
        // A key of another certificate does not match: refused, naming the certificate.
        let (_, otherKey) = try certificates.client("someone")
        try Data(contentsOf: URL(fileURLWithPath: otherKey)).write(to: URL(fileURLWithPath: certificates.serverKeyFile))
        #expect(throws: TLSFileError.self) { try context.reloadIfChanged() }
        #expect(context.current === first)
    }

    @Test func aMissingFileIsRefusedAtStartWithItsPath() {
        #expect {
            try ReloadingServerTLSContext(files: .init(certificateChain: "/nonexistent/tls.crt", privateKey: "/x.key"))
        } throws: { error in
            "\(error)".contains("/nonexistent/tls.crt")
        }
    }
}
