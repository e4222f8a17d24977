import Foundation
import Synchronization
import Digests

/// The keys of the services allowed to call the gateway: per service, the SHA-256 of its key
/// and its scopes. Only hashes are held, and a presented key is compared with every entry in
/// constant time, so neither the keys nor their position can be learned from timing.
///
/// Text form, one key per line (`#` starts a comment); a service may have several keys, which
/// is how keys are rotated without downtime:
/// `orders sha256:5e88…42 crm.read,crm.write`
/// `marketing sha256:9f86…08 crm.objects.contacts.read,crm.objects.contacts.write weight=2`
/// Scopes are `crm.read` / `crm.write` (every object type), `crm.objects.<type>.read|write`
/// (one type, HubSpot's scope names), `changes.read`, `admin` and
/// `hubspot.passthrough:/prefix/,/other/` (HubSpot paths outside `/crm/` passed through as they
/// are; the prefixes after the first follow the comma); `weight=` (default 1) is the
/// service's weight in the fair sharing of HubSpot's budget; `daily=<n>` its quota of HubSpot
/// calls per account day, fleet-wide (bulk calls stop at the interactive reserve short of it). `cert=<identity>` lets the service
/// call without a key over mutual TLS, identified by its client certificate's URI SAN (a SPIFFE
/// id) or DNS SAN; the key field is then `none` if it has no key at all:
/// `analytics none crm.read cert=spiffe://cluster.local/ns/analytics/sa/exporter`
///
/// Keys that matched are remembered (up to `recentCapacity`), so a service's repeated calls
/// skip the hashing. The memo is a hash table whose hash function is seeded per process, so its
/// timing reveals nothing about keys an attacker does not already hold.
public struct CallerKeys: Sendable {
    struct Entry: Sendable {
        /// nil: the service is identified by its client certificate only.
        var keyHash: [UInt8]?
        var certificateIdentity: String?
        var caller: Caller
    }

    private let entries: [Entry]
    private let recent = RecentKeys()
    /// Matched keys remembered at most; the memo starts over when full.
    static let recentCapacity = 256

    /// The configured services, each once.
    public var services: [String] {
        var seen = Set<String>()
        return entries.map(\.caller.service).filter { seen.insert($0).inserted }
    }
    public var isEmpty: Bool { entries.isEmpty }

    /// Parses the text form; errors name the line and what is wrong with it.
    public init(parsing text: String) throws(CallerKeysError) {
        var entries: [Entry] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line =
                rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            guard !line.isEmpty else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard (3...5).contains(fields.count) else {
                throw CallerKeysError(
                    line: number + 1,
                    problem:
                        "expected `<service> sha256:<64 hex digits>|none <scopes> [weight=<n>] [daily=<n>] [cert=<identity>]`, found \(fields.count) fields"
                )
            }
            var hash: [UInt8]?
            if fields[1] != "none" {
                guard fields[1].hasPrefix("sha256:"), let bytes = Self.hexBytes(String(fields[1].dropFirst(7))),
                    bytes.count == 32
                else {
                    throw CallerKeysError(
                        line: number + 1,
                        problem:
                            "the key hash must be `sha256:` and 64 hex digits (e.g. `printf %s \"$KEY\" | sha256sum`), or `none` with cert="
                    )
                }
                hash = bytes
            }
            var caller = Caller(service: fields[0], scopes: [])
            var passthrough = false
            for name in fields[2].split(separator: ",") {
                if name.hasPrefix(Self.passthroughScope) || (passthrough && name.hasPrefix("/")) {
                    // `hubspot.passthrough:/a/,/b/`: the prefixes after the first follow the comma.
                    let prefix =
                        name.hasPrefix("/") ? String(name) : String(name.dropFirst(Self.passthroughScope.count))
                    guard prefix.hasPrefix("/"), !prefix.hasPrefix("/crm/") else {
                        throw CallerKeysError(
                            line: number + 1,
                            problem:
                                "`\(Self.passthroughScope)` takes HubSpot path prefixes starting with / and outside /crm/ (the gateway serves it), e.g. \(Self.passthroughScope)/communication-preferences/,/marketing/"
                        )
                    }
                    caller.passthroughPrefixes.append(prefix)
                    passthrough = true
                } else if let scope = CallerScope(rawValue: String(name)) {
                    caller.scopes.insert(scope)
                } else if let (type, access) = ObjectAccess.parse(String(name)) {
                    caller.objectAccess[type, default: []].formUnion(access)
                } else {
                    throw CallerKeysError(
                        line: number + 1,
                        problem:
                            "unknown scope `\(name)` (known: \(CallerScope.allCases.map(\.rawValue).joined(separator: ", ")), crm.objects.<type>.read, crm.objects.<type>.write, \(Self.passthroughScope)<path prefix>)"
                    )
                }
            }
            var identity: String?
            for field in fields.dropFirst(3) {
                if field.hasPrefix("weight=") {
                    guard let weight = Double(field.dropFirst(7)), weight > 0, weight <= 1000 else {
                        throw CallerKeysError(
                            line: number + 1, problem: "`weight=` takes a number from 0 to 1000, e.g. weight=2")
                    }
                    caller.weight = weight
                } else if field.hasPrefix("daily=") {
                    guard let quota = Int(field.dropFirst(6)), quota > 0 else {
                        throw CallerKeysError(
                            line: number + 1,
                            problem: "`daily=` takes a positive whole number of HubSpot calls a day, e.g. daily=40000")
                    }
                    caller.dailyQuota = quota
                } else if field.hasPrefix("cert="), field.count > 5 {
                    identity = String(field.dropFirst(5))
                } else {
                    throw CallerKeysError(
                        line: number + 1,
                        problem:
                            "unknown field `\(field)` (after the scopes: weight=<n>, daily=<calls a day>, cert=<client certificate identity>)"
                    )
                }
            }
            guard hash != nil || identity != nil else {
                throw CallerKeysError(
                    line: number + 1, problem: "a service without a key (`none`) needs cert=<identity>")
            }
            if let hash, entries.contains(where: { $0.keyHash == hash }) {
                throw CallerKeysError(line: number + 1, problem: "this key hash is listed twice")
            }
            if let identity, entries.contains(where: { $0.certificateIdentity == identity }) {
                throw CallerKeysError(line: number + 1, problem: "the certificate identity \(identity) is listed twice")
            }
            if let other = entries.first(where: { $0.caller.service == caller.service }),
                other.caller.weight != caller.weight || other.caller.dailyQuota != caller.dailyQuota
            {
                throw CallerKeysError(
                    line: number + 1,
                    problem: "service `\(caller.service)` has another weight or daily quota on an earlier line")
            }
            entries.append(Entry(keyHash: hash, certificateIdentity: identity, caller: caller))
        }
        self.entries = entries
    }

    /// The scope of HubSpot paths a service may call as they are, followed by their prefixes.
    public static let passthroughScope = "hubspot.passthrough:"

    /// One service with a key given in clear (sandbox mode prints it for developers).
    public init(service: String, key: String, scopes: Set<CallerScope>) {
        entries = [
            Entry(
                keyHash: SHA256.hash(Array(key.utf8)), certificateIdentity: nil,
                caller: Caller(service: service, scopes: scopes))
        ]
    }

    /// The caller whose key this is, or nil.
    public func caller(presenting key: String) -> Caller? {
        if let known = recent.caller(for: key) { return known }
        let hash = SHA256.hash(Array(key.utf8))
        var found: Entry?
        for entry in entries {
            if let keyHash = entry.keyHash, constantTimeEquals(keyHash, hash), found == nil { found = entry }
        }
        guard let found else { return nil }
        let caller = found.caller
        recent.remember(key, as: caller, capacity: Self.recentCapacity)
        return caller
    }

    /// The caller a verified client certificate names (`cert=`), or nil. Identities are not
    /// secrets (the TLS handshake proved the certificate), so a plain comparison is fine.
    public func caller(certificateIdentity identity: String) -> Caller? {
        entries.first { $0.certificateIdentity == identity }?.caller
    }

    /// The text-form line for a service and key.
    public static func line(service: String, key: String, scopes: [CallerScope], weight: Double? = nil) -> String {
        line(service: service, key: key, scopeNames: scopes.map(\.rawValue), weight: weight)
    }

    /// The text-form line with scopes by name (`crm.objects.deals.read`).
    public static func line(service: String, key: String, scopeNames: [String], weight: Double? = nil) -> String {
        "\(service) sha256:\(hexString(SHA256.hash(Array(key.utf8)))) \(scopeNames.joined(separator: ","))"
            + (weight.map { " weight=\($0)" } ?? "")
    }

    /// Every configured service with its weight and daily quota (fair sharing's shares).
    public var shares: [String: BudgetClaim.Share] {
        var shares: [String: BudgetClaim.Share] = [:]
        for entry in entries { shares[entry.caller.service] = entry.caller.share }
        return shares
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// A caller-keys file or variable that cannot be read.
public struct CallerKeysError: Error, CustomStringConvertible {
    public var line: Int
    public var problem: String
    public var description: String { "caller keys, line \(line): \(problem)" }
}

/// Keys that matched an entry, and whose they are.
private final class RecentKeys: Sendable {
    private let callers = Mutex<[String: Caller]>([:])

    func caller(for key: String) -> Caller? { callers.withLock { $0[key] } }

    func remember(_ key: String, as caller: Caller, capacity: Int) {
        callers.withLock { callers in
            if callers.count >= capacity { callers.removeAll() }
            callers[key] = caller
        }
    }
}
