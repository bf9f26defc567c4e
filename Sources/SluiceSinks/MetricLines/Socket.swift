#if canImport(Glibc)
import Glibc
#endif

/// A socket call that failed, with the system's reason.
struct SocketError: Error, CustomStringConvertible {
    let description: String

    init(_ call: String, _ code: Int32) {
        description = "\(call): \(String(cString: strerror(code)))"
    }

    init(_ message: String) { description = message }
}

/// Opening the sockets metric line sinks write to.
enum Socket {
    /// A socket connected to `host`:`port`, non-blocking. A TCP connection
    /// that is not up within `timeout` fails, so that a server that does not
    /// answer never holds the stream thread for long.
    static func connect(host: String, port: Int, transport: MetricLineSinkConfig.Transport,
                        timeout: Duration = .seconds(1)) throws(SocketError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(transport == .udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw SocketError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket", errno) }
        if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 { return fd }
        let code = errno
        guard code == EINPROGRESS else {
            Glibc.close(fd)
            throw SocketError("connect to \(host):\(port)", code)
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(timeout.wholeMilliseconds))
        var failure: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size)
        guard ready == 1, failure == 0 else {
            Glibc.close(fd)
            throw ready == 1 ? SocketError("connect to \(host):\(port)", failure) : SocketError("connect to \(host):\(port): timed out")
        }
        return fd
    }
}
