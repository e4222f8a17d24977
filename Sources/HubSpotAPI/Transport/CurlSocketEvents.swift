import CCurl
import CCurlShim
import Glibc

/// An eventfd other threads write to so the transfer thread leaves `epoll_wait`.
struct WakeupDescriptor: Sendable {
    let fd: Int32

    init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
    }

    func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
    }
}

/// Drives curl's event-driven API (`curl_multi_socket_action`) with epoll: curl says which
/// sockets to watch and when its timer fires; only sockets with activity are handed back, so the
/// cost per event does not grow with the number of transfers in flight (unlike
/// `curl_multi_perform`, which visits every handle on every call).
/// Confined to the transfer thread; curl's callbacks reach it through an unretained pointer
/// installed for exactly the lifetime of the multi handle.
final class CurlSocketEvents {
    let epoll: Int32
    let wakeup: WakeupDescriptor
    private let multi: UnsafeMutableRawPointer
    private var watched = Set<Int32>()
    /// When curl wants `CURL_SOCKET_TIMEOUT` handled; nil when it set no timer.
    private var timerDeadline: ContinuousClock.Instant?
    private var events = [epoll_event](repeating: epoll_event(), count: 256)

    init(multi: UnsafeMutableRawPointer, wakeup: WakeupDescriptor) {
        self.multi = multi
        self.wakeup = wakeup
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epoll >= 0, "epoll_create1 failed: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeup.fd
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup.fd, &event)
        let context = Unmanaged.passUnretained(self).toOpaque()
        ccurl_multi_setopt_socket_callback(multi, curlSocketCallback)
        ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, context)
        ccurl_multi_setopt_timer_callback(multi, curlTimerCallback)
        ccurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, context)
    }

    /// Detaches from curl and closes the epoll descriptor (before `curl_multi_cleanup`).
    func close() {
        ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, nil)
        ccurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, nil)
        Glibc.close(epoll)
    }

    /// Waits for socket activity, curl's timer or a wake-up (at most `idle`), and lets curl act on it.
    func waitAndDispatch(idle: Duration) {
        let clock = ContinuousClock()
        var timeout = idle
        if let deadline = timerDeadline { timeout = min(timeout, max(.zero, clock.now.duration(to: deadline))) }
        let milliseconds = Int32(
            clamping: (timeout.components.seconds * 1000) + (timeout.components.attoseconds + 999_999_999_999_999)
                / 1_000_000_000_000_000)
        let count = events.withUnsafeMutableBufferPointer {
            epoll_wait(epoll, $0.baseAddress, Int32($0.count), milliseconds)
        }
        var running: Int32 = 0
        if count > 0 {
            for index in 0..<Int(count) {
                let event = events[index]
                let fd = event.data.fd
                if fd == wakeup.fd {
                    wakeup.drain()
                    continue
                }
                var flags: Int32 = 0
                if event.events & EPOLLIN.rawValue != 0 { flags |= CURL_CSELECT_IN }
                if event.events & EPOLLOUT.rawValue != 0 { flags |= CURL_CSELECT_OUT }
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { flags |= CURL_CSELECT_ERR }
                curl_multi_socket_action(multi, fd, flags, &running)
            }
        }
        if let deadline = timerDeadline, clock.now >= deadline {
            timerDeadline = nil
            curl_multi_socket_action(multi, curlSocketTimeout, 0, &running)
        }
    }

    /// Makes curl act on its timer now (after handles were added).
    func kick() {
        var running: Int32 = 0
        timerDeadline = nil
        curl_multi_socket_action(multi, curlSocketTimeout, 0, &running)
    }

    fileprivate func watch(_ fd: Int32, what: Int32) {
        if what == CURL_POLL_REMOVE {
            if watched.remove(fd) != nil { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil) }
            return
        }
        var event = epoll_event()
        event.events =
            (what & CURL_POLL_IN != 0 ? EPOLLIN.rawValue : 0) | (what & CURL_POLL_OUT != 0 ? EPOLLOUT.rawValue : 0)
        event.data.fd = fd
        if watched.insert(fd).inserted {
            epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
        } else {
            epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
        }
    }

    fileprivate func setTimer(milliseconds: Int) {
        timerDeadline = milliseconds < 0 ? nil : ContinuousClock.now + .milliseconds(milliseconds)
    }
}

/// `CURL_SOCKET_TIMEOUT` (a macro Swift does not import).
private let curlSocketTimeout: curl_socket_t = -1

private let curlSocketCallback:
    @convention(c) (UnsafeMutableRawPointer?, curl_socket_t, Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?)
        -> Int32 = { _, fd, what, context, _ in
            guard let context else { return 0 }
            Unmanaged<CurlSocketEvents>.fromOpaque(context).takeUnretainedValue().watch(fd, what: what)
            return 0
        }

private let curlTimerCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Int32 = {
    _, milliseconds, context in
    guard let context else { return 0 }
    Unmanaged<CurlSocketEvents>.fromOpaque(context).takeUnretainedValue().setTimer(milliseconds: milliseconds)
    return 0
}
