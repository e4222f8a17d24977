import Foundation
import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// `grpc.reflection.v1.ServerReflection` (and the same service under the older
/// `grpc.reflection.v1alpha` name, which many tools still call): serves the compiled
/// descriptors of the server's protos so grpcurl-style tools work without the .proto files.
public final class ReflectionService: Grpc_Reflection_V1_ServerReflection.SimpleServiceProtocol, Sendable {
    /// Serialized FileDescriptorProto per file name.
    private let files: [String: Data]
    /// The direct dependencies of each file.
    private let dependencies: [String: [String]]
    /// Fully-qualified symbol (package-qualified message, enum, service, method) → file name.
    private let symbols: [String: String]
    /// Extendee type → (extension number → file name).
    private let extensions: [String: [Int32: String]]
    private let services: [String]

    /// - Parameters:
    ///   - descriptorSetsBase64: base64 `FileDescriptorSet`s, as `scripts/gen-protos` writes
    ///     them into each generated target (`…Descriptors.fileDescriptorSetBase64`).
    ///   - services: the fully-qualified services to list; nil lists every service described.
    public init(descriptorSetsBase64: [String], services: [String]? = nil) throws {
        var files: [String: Data] = [:]
        var dependencies: [String: [String]] = [:]
        var symbols: [String: String] = [:]
        var extensions: [String: [Int32: String]] = [:]
        var described: [String] = []
        for encoded in descriptorSetsBase64 {
            guard let data = Data(base64Encoded: encoded) else {
                throw RPCError(code: .internalError, message: "a descriptor set is not valid base64")
            }
            let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
            for file in set.file where files[file.name] == nil {
                files[file.name] = try file.serializedData()
                dependencies[file.name] = file.dependency
                let prefix = file.package.isEmpty ? "" : file.package + "."
                func addMessages(_ messages: [Google_Protobuf_DescriptorProto], scope: String) {
                    for message in messages {
                        let name = scope + message.name
                        symbols[name] = file.name
                        for nested in message.enumType { symbols[name + "." + nested.name] = file.name }
                        for field in message.extension {
                            extensions[Self.trimDot(field.extendee), default: [:]][field.number] = file.name
                        }
                        addMessages(message.nestedType, scope: name + ".")
                    }
                }
                addMessages(file.messageType, scope: prefix)
                for enumType in file.enumType { symbols[prefix + enumType.name] = file.name }
                for field in file.extension {
                    extensions[Self.trimDot(field.extendee), default: [:]][field.number] = file.name
                }
                for service in file.service {
                    let name = prefix + service.name
                    symbols[name] = file.name
                    described.append(name)
                    for method in service.method { symbols[name + "." + method.name] = file.name }
                }
            }
        }
        self.files = files
        self.dependencies = dependencies
        self.symbols = symbols
        self.extensions = extensions
        self.services = (services ?? described).sorted()
    }

    private static func trimDot(_ name: String) -> String {
        name.hasPrefix(".") ? String(name.dropFirst()) : name
    }

    public func serverReflectionInfo(
        request: RPCAsyncSequence<Grpc_Reflection_V1_ServerReflectionRequest, any Error>,
        response: RPCWriter<Grpc_Reflection_V1_ServerReflectionResponse>,
        context: ServerContext
    ) async throws {
        for try await message in request {
            try await response.write(answer(message))
        }
    }

    /// The answer to one reflection request.
    func answer(_ request: Grpc_Reflection_V1_ServerReflectionRequest) -> Grpc_Reflection_V1_ServerReflectionResponse {
        var response = Grpc_Reflection_V1_ServerReflectionResponse()
        response.validHost = request.host
        response.originalRequest = request
        switch request.messageRequest {
        case .listServices:
            response.listServicesResponse = .with { $0.service = services.map { name in .with { $0.name = name } } }
        case .fileByFilename(let name):
            if files[name] != nil {
                response.fileDescriptorResponse = fileResponse(name)
            } else {
                response.errorResponse = notFound("file '\(name)' is not known")
            }
        case .fileContainingSymbol(let symbol):
            if let file = symbols[Self.trimDot(symbol)] {
                response.fileDescriptorResponse = fileResponse(file)
            } else {
                response.errorResponse = notFound("symbol '\(symbol)' is not known")
            }
        case .fileContainingExtension(let request):
            if let file = extensions[Self.trimDot(request.containingType)]?[request.extensionNumber] {
                response.fileDescriptorResponse = fileResponse(file)
            } else {
                response.errorResponse = notFound(
                    "extension \(request.extensionNumber) of '\(request.containingType)' is not known")
            }
        case .allExtensionNumbersOfType(let type):
            let name = Self.trimDot(type)
            if symbols[name] != nil {
                response.allExtensionNumbersResponse = .with {
                    $0.baseTypeName = name
                    $0.extensionNumber = (extensions[name].map { Array($0.keys) } ?? []).sorted()
                }
            } else {
                response.errorResponse = notFound("type '\(type)' is not known")
            }
        case nil:
            response.errorResponse = .with {
                $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
                $0.errorMessage = "the request names no question (message_request is empty)"
            }
        }
        return response
    }

    /// The file and every file it depends on, transitively, the file itself first.
    private func fileResponse(_ name: String) -> Grpc_Reflection_V1_FileDescriptorResponse {
        var seen: Set<String> = []
        var order: [String] = []
        var pending = [name]
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            order.append(next)
            pending.append(contentsOf: (dependencies[next] ?? []).reversed())
        }
        return .with { $0.fileDescriptorProto = order.compactMap { files[$0] } }
    }

    private func notFound(_ message: String) -> Grpc_Reflection_V1_ErrorResponse {
        .with {
            $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
            $0.errorMessage = message
        }
    }

    /// The same service registered as `grpc.reflection.v1alpha.ServerReflection` (its messages
    /// are identical on the wire).
    public var v1alpha: some RegistrableRPCService { ReflectionV1Alpha(service: self) }
}

private struct ReflectionV1Alpha: RegistrableRPCService {
    let service: ReflectionService

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: MethodDescriptor(
                service: ServiceDescriptor(fullyQualifiedService: "grpc.reflection.v1alpha.ServerReflection"),
                method: "ServerReflectionInfo",
                type: .bidirectionalStreaming
            ),
            deserializer: ProtobufDeserializer<Grpc_Reflection_V1_ServerReflectionRequest>(),
            serializer: ProtobufSerializer<Grpc_Reflection_V1_ServerReflectionResponse>(),
            handler: { request, context in
                try await service.serverReflectionInfo(request: request, context: context)
            }
        )
    }
}
