import Logging

/// A logger for the servers and clients tests start: only critical lines, so test output stays
/// readable.
public func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}
