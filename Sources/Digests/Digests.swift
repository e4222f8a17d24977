import CLibcrypto

/// SHA-256 (FIPS 180-4) by OpenSSL's libcrypto, which libcurl already brings into the image:
/// no cryptography of our own, and no BoringSSL build (swift-crypto added 35 s to a clean
/// debug build here; the system library adds 2 s).
public enum SHA256 {
    /// The digest size in bytes.
    public static let byteCount = 32

    /// The digest of `bytes`.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var digest = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { message in
            digest.withUnsafeMutableBufferPointer { out in
                EVP_Digest(message.baseAddress, message.count, out.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // EVP_Digest fails only without memory or a broken library: nothing a caller could handle.
        precondition(ok == 1 && length == byteCount, "libcrypto's SHA-256 failed")
        return digest
    }
}

/// HMAC (RFC 2104) over SHA-256, by libcrypto.
public enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key`.
    public static func authenticationCode<Key: Collection, Message: Sequence>(for message: Message, key: Key) -> [UInt8]
    where Key.Element == UInt8, Message.Element == UInt8 {
        let keyBytes = Array(key), input = Array(message)
        var mac = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        let result = keyBytes.withUnsafeBytes { key in
            input.withUnsafeBytes { message in
                mac.withUnsafeMutableBufferPointer { out in
                    // A non-nil key pointer even for an empty key (HMAC treats nil as "reuse").
                    HMAC(
                        EVP_sha256(), key.baseAddress ?? UnsafeRawPointer(out.baseAddress!), Int32(key.count),
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, out.baseAddress,
                        &length)
                }
            }
        }
        precondition(result != nil && length == SHA256.byteCount, "libcrypto's HMAC-SHA256 failed")
        return mac
    }
}

/// Lowercase hexadecimal text of bytes.
public func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Compares two byte strings in time that depends only on their lengths, not their contents
/// (libcrypto's `CRYPTO_memcmp`).
public func constantTimeEquals<A: Collection, B: Collection>(_ lhs: A, _ rhs: B) -> Bool
where A.Element == UInt8, B.Element == UInt8 {
    guard lhs.count == rhs.count else { return false }
    func equal(_ l: UnsafeBufferPointer<UInt8>, _ r: UnsafeBufferPointer<UInt8>) -> Bool {
        l.isEmpty || CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0
    }
    // Arrays and other contiguous collections without a copy.
    if let result = lhs.withContiguousStorageIfAvailable({ l in
        rhs.withContiguousStorageIfAvailable { r in equal(l, r) }
    }), let result {
        return result
    }
    return Array(lhs).withUnsafeBufferPointer { l in Array(rhs).withUnsafeBufferPointer { r in equal(l, r) } }
}
