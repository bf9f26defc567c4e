import CRdKafka
import Logging

/// The object librdkafka's C callbacks reach through the configuration's
/// opaque pointer. librdkafka calls `error_cb`, `dr_msg_cb` and
/// `rebalance_cb` only from the thread that polls the client, so the state
/// here is confined to that thread; `log_cb` is routed to the same queue.
final class ClientCallbacks: @unchecked Sendable {
    let logger: Logger
    // These two are written for each record sent or delivered. No access
    // calls out (a delivery report runs on the thread that polls, between
    // its other calls), so none overlaps another, and the run-time
    // exclusivity check (about 80 instructions each) is skipped.
    @exclusivity(unchecked) var deliveredCount = 0
    var failedCount = 0
    @exclusivity(unchecked) var acknowledgements = DeliveryEpochs()
    var trackedOffsets = TrackedOffsets()
    /// The bit of a record's opaque that asks for its offset to be tracked;
    /// the rest is its delivery epoch.
    static let trackedFlag = 1 << 62
    var firstDeliveryFailure: KafkaError?
    var rebalance: ((rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    init(logger: Logger) {
        self.logger = logger
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ClientCallbacks {
        Unmanaged<ClientCallbacks>.fromOpaque(opaque!).takeUnretainedValue()
    }

    /// A new librdkafka client of `type` with `config`, these callbacks (and
    /// those `extra` installs) reaching it; fails on an invalid property.
    func makeClient(_ type: rd_kafka_type_t, config: KafkaConfig,
                    extra: (OpaquePointer) -> Void) throws(KafkaError) -> OpaquePointer {
        let conf = try config.makeNative()
        install(on: conf)
        extra(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, message: String(nulTerminated: errstr))
        }
        return rk
    }

    /// Installs the callbacks on `conf` with `self` as their opaque.
    private func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            let callbacks = ClientCallbacks.from(opaque)
            let text = reason.map { String(cString: $0) } ?? ""
            callbacks.logger.warning("kafka client error", metadata: [
                "error": "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: err))))",
                "reason": "\(text)"])
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            let callbacks = ClientCallbacks.from(rd_kafka_opaque(rk))
            let level: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
            callbacks.logger.log(level: level, "librdkafka", metadata: [
                "facility": "\(facility.map { String(cString: $0) } ?? "")",
                "message": "\(message.map { String(cString: $0) } ?? "")"])
        }
    }

    func installDeliveryReports(on conf: OpaquePointer) {
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message = message?.pointee else { return }
            ClientCallbacks.from(opaque).reportDelivery(message)
        }
    }

    private func reportDelivery(_ message: rd_kafka_message_t) {
        let topic = { message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?" }
        guard message.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            // A failed record's epoch never completes: nothing after it can be acknowledged.
            failedCount += 1
            if firstDeliveryFailure == nil { firstDeliveryFailure = KafkaError(message.err, "delivery to \(topic()) failed") }
            return
        }
        let opaque = Int(bitPattern: message._private)
        let epoch = opaque & ~Self.trackedFlag
        deliveredCount += 1
        acknowledgements.delivered(epoch: epoch)
        if opaque & Self.trackedFlag != 0 {
            trackedOffsets.delivered(TopicPartition(topic(), message.partition), offset: message.offset, epoch: epoch)
        }
    }

    /// Installs the consumer's callbacks: rebalances, and the outcome of
    /// asynchronous commits (a failure is logged; the next commit supersedes it).
    func installConsumer(on conf: OpaquePointer) {
        installRebalance(on: conf)
        rd_kafka_conf_set_offset_commit_cb(conf) { _, err, offsets, opaque in
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
            let partitions = offsets.map { PartitionList.offsets($0).map(\.description) } ?? []
            ClientCallbacks.from(opaque).logger.warning("offset commit failed", metadata: [
                "error": "\(KafkaError(err))", "offsets": "\(partitions)"])
        }
    }

    private func installRebalance(on conf: OpaquePointer) {
        rd_kafka_conf_set_rebalance_cb(conf) { _, err, partitions, opaque in
            guard let partitions else { return }
            ClientCallbacks.from(opaque).rebalance?(err, partitions)
        }
    }
}

/// Which records the broker has acknowledged, by epoch: the producer's
/// owner closes an epoch (say, at a commit point) and later asks whether
/// every record sent up to it was delivered, without waiting for a flush.
/// A record whose delivery failed keeps its epoch open for good.
struct DeliveryEpochs {
    /// The epoch number of `outstanding[0]`; the last entry is the open epoch.
    private var base = 1
    private var outstanding = [0]

    /// The epoch records sent now belong to.
    var current: Int { base + outstanding.count - 1 }

    mutating func sent() { outstanding[outstanding.count - 1] += 1 }

    mutating func delivered(epoch: Int) { outstanding[epoch - base] -= 1 }

    /// Closes the open epoch and returns its number.
    mutating func close() -> Int {
        outstanding.append(0)
        return current - 1
    }

    /// The highest closed epoch whose records, and all earlier ones, were delivered.
    mutating func acknowledged() -> Int {
        while outstanding.count > 1, outstanding[0] == 0 {
            outstanding.removeFirst()
            base += 1
        }
        return base - 1
    }
}

/// The highest delivered offset per partition of tracked records, by
/// delivery epoch, until the owner takes them.
struct TrackedOffsets {
    private var byEpoch: [Int: [TopicPartition: Int64]] = [:]

    mutating func delivered(_ tp: TopicPartition, offset: Int64, epoch: Int) {
        byEpoch[epoch, default: [:]][tp] = max(byEpoch[epoch]?[tp] ?? -1, offset)
    }

    /// The highest offsets of epochs up to `epoch`, which are forgotten.
    mutating func take(through epoch: Int) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for (e, offsets) in byEpoch where e <= epoch {
            out.merge(offsets, uniquingKeysWith: max)
            byEpoch[e] = nil
        }
        return out
    }
}
