#if canImport(Glibc)
import Glibc
#endif
import Logging
import Sluice
import SluiceKafka

/// Where lines of metrics go: a StatsD server (UDP datagrams, or TCP) or
/// Graphite's plaintext listener (TCP).
public struct MetricLineSinkConfig: Sendable {
    /// How the lines travel.
    public enum Transport: String, Sendable, CaseIterable {
        /// Datagrams of whole lines, each at most ``MetricLineSinkConfig/maxDatagram`` bytes.
        case udp
        /// One stream of lines, reconnected when it breaks.
        case tcp
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// UDP or TCP.
    public var transport: Transport
    /// The largest datagram: lines are packed into datagrams up to it, as
    /// statsd's repeater packs them (1432 bytes fits an Ethernet frame).
    public var maxDatagram = 1432
    /// The first wait after a failed connection or send; it doubles up to ``maxRetryBackoff``.
    public var retryBackoff = Duration.milliseconds(100)
    /// The longest wait between attempts.
    public var maxRetryBackoff = Duration.seconds(10)
    /// Bytes held while the server cannot take them; beyond it the sink is
    /// full and the thread holds its input back.
    public var bufferBytes = 1 << 20

    /// A destination at `host`:`port` over `transport`.
    public init(host: String, port: Int, transport: Transport) {
        self.host = host
        self.port = port
        self.transport = transport
    }
}

extension SinkDefinition where Item == [UInt8] {
    /// A sink called `name` that writes each item (lines, each ending in a
    /// newline) to a StatsD or Graphite server; each stream thread has its own socket.
    public static func metricLines(_ name: String, _ config: MetricLineSinkConfig) -> SinkDefinition {
        SinkDefinition(name: name) { context in MetricLineSink(config: config, context: context) }
    }
}

/// Writes lines to a StatsD or Graphite server. An item counts as durable
/// once the kernel has taken all of it: neither protocol acknowledges more.
/// A server that is down or refuses means waiting and retrying with
/// backoff, never dropping; what was sent again after a crash repeats the
/// same values for the same names and times, which both servers take as
/// the same point (Graphite) or gauge value (StatsD).
final class MetricLineSink: Sink {
    private let config: MetricLineSinkConfig
    private let context: SinkContext
    private var queue: [(bytes: [UInt8], ticket: PendingOffsets.Ticket?)] = []
    /// Bytes of the first queued item already written (TCP).
    private var written = 0
    private var queuedBytes = 0
    private var pending = PendingOffsets()
    private var socket: Int32 = -1
    private var backoff: Duration
    private var nextAttempt = ContinuousClock.now
    private var failing = false
    private let lines: Metric

    init(config: MetricLineSinkConfig, context: SinkContext) {
        self.config = config
        self.context = context
        backoff = config.retryBackoff
        lines = context.metrics.counter("sluice_metric_lines_sent_total", help: "Metric lines written to StatsD or Graphite.",
                                        labels: context.metricLabels)
    }

    func write(_ item: [UInt8], source: Provenance?) throws {
        guard !item.isEmpty else { return }
        queue.append((item, source.map { pending.add($0) }))
        queuedBytes += item.count
    }

    var isFull: Bool { queuedBytes >= config.bufferBytes }

    func firstPendingOffset(of partition: TopicPartition) -> Int64? { pending.first(of: partition) }

    func poll(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while !queue.isEmpty {
            let now = ContinuousClock.now
            if now < nextAttempt {
                guard now < deadline else { return }
                blockThread(for: min(nextAttempt, deadline) - now)
                continue
            }
            do {
                try send()
                if failing { context.logger.info("metric line destination reachable again", metadata: target) }
                failing = false
                backoff = config.retryBackoff
            } catch {
                disconnect()
                if !failing {
                    context.logger.warning("metric line destination unreachable; retrying",
                                           metadata: target.merging(["error": "\(error)"]) { $1 })
                }
                failing = true
                nextAttempt = ContinuousClock.now + backoff
                backoff = min(backoff * 2, config.maxRetryBackoff)
            }
            guard !queue.isEmpty, ContinuousClock.now < deadline else { return }
            // The socket's buffer is full: wait until it has room, or the time is up.
            if socket >= 0 {
                var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                _ = Glibc.poll(&poller, 1, Int32(max(1, (deadline - ContinuousClock.now).wholeMilliseconds)))
            }
        }
    }

    func flush(timeout: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !queue.isEmpty, ContinuousClock.now < deadline { try poll(timeout: deadline - ContinuousClock.now) }
        return queue.isEmpty
    }

    func forget(_ partitions: [TopicPartition]) { pending.forget(partitions) }

    func close() { disconnect() }

    private var target: Logger.Metadata {
        ["sink": "\(context.name)", "server": "\(config.transport.rawValue)://\(config.host):\(config.port)"]
    }

    /// Sends queued items until the queue is empty or the socket would block.
    private func send() throws(SocketError) {
        if socket < 0 { socket = try Socket.connect(host: config.host, port: config.port, transport: config.transport) }
        while !queue.isEmpty {
            let sent = config.transport == .udp ? try sendDatagram() : try sendStream()
            guard sent else { return }
        }
    }

    /// Sends the lines of as many whole items as fit one datagram (an item
    /// larger than one datagram goes in several, split between lines).
    private func sendDatagram() throws(SocketError) -> Bool {
        var datagram: [UInt8] = []
        var items = 0
        while items < queue.count, datagram.count + queue[items].bytes.count <= config.maxDatagram {
            datagram += queue[items].bytes
            items += 1
        }
        if items == 0 {
            for part in Self.split(queue[0].bytes, max: config.maxDatagram) { guard try transmit(part[...]) != nil else { return false } }
            items = 1
        } else {
            guard try transmit(datagram[...]) != nil else { return false }
        }
        for item in queue[..<items] { complete(item) }
        queue.removeFirst(items)
        return true
    }

    /// Writes what remains of the first item to the stream.
    private func sendStream() throws(SocketError) -> Bool {
        guard let n = try transmit(queue[0].bytes[written...]) else { return false }
        written += n
        guard written == queue[0].bytes.count else { return true }
        written = 0
        complete(queue.removeFirst())
        return true
    }

    /// Sends `bytes` (a datagram, or the next part of the stream); returns
    /// how many went, or `nil` when the socket would block.
    private func transmit(_ bytes: ArraySlice<UInt8>) throws(SocketError) -> Int? {
        let n = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        throw SocketError("send", errno)
    }

    private func complete(_ item: (bytes: [UInt8], ticket: PendingOffsets.Ticket?)) {
        queuedBytes -= item.bytes.count
        if let ticket = item.ticket { pending.complete(ticket) }
        lines.add(item.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) })
    }

    /// `bytes` cut after newlines into parts of at most `max` bytes (a
    /// longer line is a part of its own).
    static func split(_ bytes: [UInt8], max: Int) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var part: [UInt8] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = (bytes[start...].firstIndex(of: 0x0A).map { $0 + 1 }) ?? bytes.endIndex
            if !part.isEmpty, part.count + (end - start) > max { parts.append(part); part = [] }
            part += bytes[start..<end]
            start = end
        }
        if !part.isEmpty { parts.append(part) }
        return parts
    }

    private func disconnect() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
        written = 0
    }
}
