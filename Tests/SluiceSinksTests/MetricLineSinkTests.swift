#if canImport(Glibc)
import Glibc
#endif
import Logging
import Sluice
import SluiceKafka
import Testing
@testable import SluiceSinks

/// A listening socket on a loopback port the kernel chose: what a StatsD
/// (UDP) or Graphite (TCP) server would receive.
private final class Listener {
    let fd: Int32
    let port: Int

    init(udp: Bool, port wanted: Int = 0) throws {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(wanted).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 && getsockname(fd, $0, &size) == 0 }
        }
        guard bound, udp || listen(fd, 4) == 0 else { throw SocketError("bind", errno) }
        port = Int(UInt16(bigEndian: address.sin_port))
        var wait = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The datagrams received until none arrives for 200 ms.
    func datagrams() -> [String] {
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var wait = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return out }
            out.append(String(decoding: buffer[..<n], as: UTF8.self))
        }
    }

    /// Everything one accepted connection sends until it closes.
    func stream() -> String {
        let connection = accept(fd, nil, nil)
        defer { close(connection) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(connection, &buffer, buffer.count, 0)
            guard n > 0 else { return String(decoding: bytes, as: UTF8.self) }
            bytes += buffer[..<n]
        }
    }
}

@Suite struct MetricLineSinkTests {
    private func sink(_ config: MetricLineSinkConfig) -> MetricLineSink {
        MetricLineSink(config: config, context: SinkContext(name: "graphite", applicationID: "app", threadIndex: 0,
                                                            logger: Logger(label: "test")) { _ in })
    }

    private func item(_ i: Int) -> [UInt8] { Array("stats.counters.requests.count \(i) 1700000010\n".utf8) }

    private func source(_ offset: Int64) -> Provenance { Provenance(topic: "in", partition: 0, offset: offset) }

    @Test func udpPacksWholeLinesIntoDatagramsNoLargerThanTheLimit() throws {
        let server = try Listener(udp: true)
        var config = MetricLineSinkConfig(host: "127.0.0.1", port: server.port, transport: .udp)
        config.maxDatagram = 100
        let sink = sink(config)
        for i in 0..<5 { try sink.write(item(i), source: source(Int64(i))) }
        #expect(try sink.flush(timeout: .seconds(5)))
        let datagrams = server.datagrams()
        #expect(datagrams.count == 3, "two 46-byte items per 100-byte datagram")
        #expect(datagrams.allSatisfy { $0.utf8.count <= 100 && $0.hasSuffix("\n") })
        #expect(datagrams.joined() == (0..<5).map { String(decoding: item($0), as: UTF8.self) }.joined())
        #expect(sink.firstPendingOffset(of: TopicPartition("in", 0)) == nil)
    }

    @Test func anItemLargerThanADatagramIsCutBetweenItsLines() {
        let lines = Array("a 1 1\nbb 2 1\nccc 3 1\n".utf8)
        let parts = MetricLineSink.split(lines, max: 13).map { String(decoding: $0, as: UTF8.self) }
        #expect(parts == ["a 1 1\nbb 2 1\n", "ccc 3 1\n"])
        #expect(MetricLineSink.split(lines, max: 4).count == 3, "a line longer than the limit is a part of its own")
    }

    @Test func tcpHoldsItemsWhileTheServerIsDownAndDeliversThemAllOnceItIsUp() throws {
        let port = try Listener(udp: false).port // a free port, closed again: nothing listens there
        var config = MetricLineSinkConfig(host: "127.0.0.1", port: port, transport: .tcp)
        config.retryBackoff = .milliseconds(10)
        config.maxRetryBackoff = .milliseconds(50)
        let sink = sink(config)
        for i in 0..<3 { try sink.write(item(i), source: source(Int64(10 + i))) }
        #expect(try !sink.flush(timeout: .milliseconds(100)), "a refused connection is retried, not a loss")
        #expect(sink.firstPendingOffset(of: TopicPartition("in", 0)) == 10, "the input stays uncommitted")

        let server = try Listener(udp: false, port: port)
        #expect(try sink.flush(timeout: .seconds(5)))
        #expect(sink.firstPendingOffset(of: TopicPartition("in", 0)) == nil)
        sink.close()
        #expect(server.stream() == (0..<3).map { String(decoding: item($0), as: UTF8.self) }.joined())
    }

    @Test func aSinkHoldingMoreThanItsBufferIsFull() throws {
        let port = try Listener(udp: false).port
        var config = MetricLineSinkConfig(host: "127.0.0.1", port: port, transport: .tcp)
        config.bufferBytes = 100
        let sink = sink(config)
        try sink.write(item(0), source: nil)
        #expect(!sink.isFull)
        try sink.write(item(1), source: nil)
        try sink.write(item(2), source: nil)
        #expect(sink.isFull, "back pressure instead of an unbounded buffer")
    }
}
