import SluiceKafka

/// Where a task's output records go: a Kafka producer in production, memory
/// in the test driver.
public protocol RecordCollector: AnyObject {
    /// Enqueues a record for `topic`; its key chooses the partition.
    func send(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64) throws
    /// Enqueues a state store's change for `partition` of its changelog
    /// topic, its delivered offset tracked (the store's restore point).
    func sendChangelog(topic: String, partition: Int32, key: [UInt8], value: [UInt8]?, headers: [KafkaHeader],
                       timestamp: Int64) throws
}

/// A source of the current time in milliseconds since the epoch.
public protocol WallClock: Sendable {
    /// The current time.
    func now() -> Int64
}

/// The machine's clock.
public struct SystemClock: WallClock {
    /// Creates the system clock.
    public init() {}
    public func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
