import Foundation

/// The size of a suite that has a long form (`scripts/test --long`, which sets
/// HUBSPOT_GATEWAY_LONG_TESTS=1) and a short one for CI.
public enum TestScale {
    public static var isLong: Bool { ProcessInfo.processInfo.environment["HUBSPOT_GATEWAY_LONG_TESTS"] == "1" }

    public static func pick<T>(short: T, long: T) -> T { isLong ? long : short }
}
