/// A request's front matter, resolved one way for both APIs: who calls (their key or client
/// certificate) and whether their scopes allow this kind of call, until when, at which priority,
/// and the object type named. The APIs only read the values off their wire (metadata, headers,
/// path) and map a refusal (`GatewayFailure`) to their own answer.
public enum FrontMatter {
    /// The longest object type name accepted (HubSpot's custom type names are far shorter).
    public static let maxObjectTypeLength = 100

    /// The caller that presents `authorization` (`Bearer <key>`), or, without one, a verified
    /// client certificate's `certificateIdentity` mapped to a caller.
    public static func caller(
        authorization: String?, certificateIdentity: String? = nil, keys: CallerKeys
    ) throws(GatewayFailure) -> Caller {
        guard let authorization else {
            if let certificateIdentity, let caller = keys.caller(certificateIdentity: certificateIdentity) {
                return caller
            }
            throw GatewayFailure(
                .callerNotAuthenticated,
                certificateIdentity.map {
                    "no caller key, and the client certificate's identity \($0) is not a caller's `cert=`: send `authorization: Bearer <key>` or ask the gateway's operators to map the certificate"
                }
                    ?? "no caller key: send `authorization: Bearer <key>` (keys are issued per calling service by the gateway's operators)"
            )
        }
        guard let key = bearerKey(in: authorization), let caller = keys.caller(presenting: key) else {
            throw GatewayFailure(
                .callerNotAuthenticated,
                "unknown caller key (check the key your service was given; it is compared by its SHA-256)")
        }
        return caller
    }

    /// Refuses `caller` when it lacks `scope` for `what` ("GetContact"). Reads and writes need
    /// their access to some object type; the domain checks the type itself.
    public static func admit(_ caller: Caller, to scope: CallerScope, for what: String) throws(GatewayFailure) {
        let allowed =
            switch scope {
            case .read: caller.mayAny(.read)
            case .write: caller.mayAny(.write)
            default: caller.scopes.contains(scope)
            }
        guard allowed else {
            var failure = GatewayFailure(
                .callerNotAllowed, "service `\(caller.service)` lacks the scope `\(scope.rawValue)` that \(what) needs")
            failure.callerService = caller.service
            failure.requiredScopes = [scope.rawValue]
            throw failure
        }
    }

    /// The terms of a call: its deadline (`timeout` from now, or the default when the caller
    /// sent none) and its priority (`bulk`, case-insensitive, or interactive).
    public static func terms(
        timeout: Duration?, defaultTimeout: Duration, priority: String?, now: ContinuousClock.Instant = .now
    ) -> CallTerms {
        CallTerms(
            priority: priority?.lowercased() == "bulk" ? .bulk : .interactive,
            deadline: now + (timeout ?? defaultTimeout))
    }

    /// An object type as the caller named it (a name, an id such as `0-1`, a custom type's
    /// `p_…` name), as the name the gateway keys it by (`0-1` → `contacts`).
    public static func objectType(_ value: String, field: String = "object_type") throws(GatewayFailure) -> String {
        guard !value.isEmpty else { throw invalid(field: field, "\(field) is required") }
        let allowed = value.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "-" }
        guard allowed, value.count <= maxObjectTypeLength else {
            throw invalid(
                field: field, "\(field) \"\(value.prefix(40))\" is not an object type name (letters, digits, _ and -)")
        }
        return ObjectTypeAliases.canonical(value)
    }

    static func invalid(field: String, _ message: String) -> GatewayFailure {
        var failure = GatewayFailure(.invalidRequest, message)
        failure.field = field
        return failure
    }

    /// The key of an `authorization: Bearer <key>` value (scheme case-insensitive, surrounding
    /// spaces ignored); nil for any other form. Plain UTF-8 work: this runs on every call.
    public static func bearerKey(in header: String) -> String? {
        var bytes = Substring(header).utf8[...]
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count, zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
            bytes[bytes.index(bytes.startIndex, offsetBy: scheme.count)] == UInt8(ascii: " ")
        else { return nil }
        bytes = bytes.dropFirst(scheme.count + 1)
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            bytes = bytes.dropLast()
        }
        return bytes.isEmpty ? nil : String(Substring(bytes))
    }
}
