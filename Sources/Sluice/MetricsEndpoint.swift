import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension StreamApplication {
    /// The application's metrics in Prometheus' text exposition format:
    /// the engine's, one series per stream thread, then its components'.
    public func prometheusText() -> String { metrics.prometheusText() }
}

/// Serves a ``StreamApplication``'s metrics over HTTP at `GET /metrics`
/// (Prometheus' text format) from a thread of its own, until ``close()``,
/// with the probes container orchestrators call: `GET /health` answers 200
/// unless a stream thread failed, `GET /ready` 200 only while every task is
/// assigned and restored (``ApplicationState/running``); both 503 with the
/// state otherwise. Every other path answers 404.
public final class MetricsEndpoint: Sendable {
    /// The port it listens on (the one the system chose when asked for 0).
    public let port: UInt16
    private let socket: Int32
    private let closed = Atomic<Bool>(false)

    /// Listens on `host:port` (an IPv4 address) and starts serving.
    public init(application: StreamApplication, host: String = "127.0.0.1", port: UInt16) throws {
        (socket, self.port) = try listeningSocket(host: host, port: port)
        let thread = Thread { [self] in serve(application) }
        thread.name = "sluice-metrics"
        thread.start()
    }

    /// Listens on `address`, `HOST:PORT` (an IPv4 address and a port).
    public convenience init(application: StreamApplication, address: String) throws {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw TopologyError("metrics: expected HOST:PORT, found \(address)")
        }
        try self.init(application: application, host: String(address[..<colon]), port: port)
    }

    /// Stops listening; the serving thread ends.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
    }

    private func serve(_ application: StreamApplication) {
        while !closed.load(ordering: .relaxed) {
            let client = accept(socket, nil, nil)
            guard client >= 0 else { continue }
            respond(on: client, application)
            Glibc.close(client)
        }
    }

    private func respond(on client: Int32, _ application: StreamApplication) {
        var request = [UInt8](repeating: 0, count: 4096)
        let count = read(client, &request, request.count)
        guard count > 0 else { return }
        let line = String(decoding: request.prefix(count).prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let (status, body) = Self.answer(line.split(separator: " ").dropFirst().first ?? "", application)
        let response = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let bytes = Array(response.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { write(client, $0.baseAddress! + sent, $0.count - sent) }
            guard n > 0 else { return }
            sent += n
        }
    }
}

extension MetricsEndpoint {
    /// The status line's text and the body for the request's `path`.
    static func answer(_ path: Substring, _ application: StreamApplication) -> (String, String) {
        func probe(_ passes: Bool, _ state: ApplicationState) -> (String, String) {
            (passes ? "200 OK" : "503 Service Unavailable", "\(state)\n")
        }
        switch path {
        case "/metrics": return ("200 OK", application.prometheusText())
        case "/health":
            let state = application.state
            return probe(state.isHealthy, state)
        case "/ready":
            let state = application.state
            return probe(state.isReady, state)
        default: return ("404 Not Found", "not found\n")
        }
    }
}

/// A TCP socket listening on `host:port` (an IPv4 address; port 0 lets the
/// system choose), and the port it got.
public func listeningSocket(host: String, port: UInt16) throws -> (socket: Int32, port: UInt16) {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TopologyError("listen: socket: \(String(cString: strerror(errno)))") }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
        Glibc.close(fd)
        throw TopologyError("listen: \(host) is not an IPv4 address")
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
        let reason = String(cString: strerror(errno))
        Glibc.close(fd)
        throw TopologyError("cannot listen on \(host):\(port): \(reason)")
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, UInt16(bigEndian: actual.sin_port))
}
