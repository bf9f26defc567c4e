import Logging
import SluiceKafka
import SluiceState
import Synchronization

/// Keeps this process's standby tasks: warm copies of the stores of tasks
/// other instances own (`standby_replicas`), so that whoever takes a task
/// over after its owner dies reads only the changelog's tail.
///
/// Instances learn of each other through the membership topic
/// (`<application.id>-members`, compacted): every second each one writes
/// the tasks it owns under its process id, and a process not heard of for
/// ``expiry`` milliseconds counts as gone. Every instance computes the same
/// placement from it (``StandbyPlacement``). A group's own description
/// would serve too, but not every broker fills in its members' assignments.
///
/// Runs on its own OS thread; an error is logged and the loop retries a
/// second later: standbys only ever save restore time.
final class StandbyThread: @unchecked Sendable {
    /// How often the process announces its tasks (ms).
    static let heartbeat: Int64 = 1000
    /// How long a process stays a member without announcing (ms).
    static let expiry: Int64 = 10_000

    private let topology: Topology
    private let config: StreamsConfig
    private let processID: String
    private let factory: KafkaClientFactory
    private let clock: WallClock
    private let logger: Logger
    private let processTasks: ProcessTasks
    private let context: TaskStateContext
    private let stopFlag = Atomic<Bool>(false)
    private let standbyGauge: Metric, appliedCounter: Metric

    private var changelogs: ChangelogClient!
    private var producer: ProducerClient!
    private var group: ConsumerClient!
    /// The membership topic's partition and the offset of its next record.
    private let membership: TopicPartition
    private var membershipNext = TopicPartitionOffset.beginning
    /// Each live process's tasks and when it announced them (ms).
    private var members: [String: (at: Int64, tasks: Set<TopicPartition>)] = [:]
    /// The standby tasks' stores, by task.
    private var standbys: [TopicPartition: [StandbyStore]] = [:] {
        didSet { standbyGauge.set(standbys.count) }
    }
    private var nextBeat: Int64 = 0, nextRefresh: Int64 = 0
    /// Whether the changelog positions changed since they were last given to the reader.
    private var moved = true

    init(topology: Topology, config: StreamsConfig, processID: String, factory: KafkaClientFactory, clock: WallClock,
         logger: Logger, metrics: MetricsRegistry, state: StateLocation, processTasks: ProcessTasks) {
        self.topology = topology
        self.config = config
        self.processID = processID
        self.factory = factory
        self.clock = clock
        var logger = logger
        logger[metadataKey: "thread"] = "standby"
        self.logger = logger
        self.processTasks = processTasks
        context = .logged(at: state, applicationID: config.applicationID)
        membership = TopicPartition(config.membershipTopic, 0)
        let labels = [("application", config.applicationID)]
        standbyGauge = metrics.gauge("sluice_standby_tasks", help: "Tasks of other instances this process keeps warm copies of.",
                                     labels: labels)
        appliedCounter = metrics.counter("sluice_standby_records_total",
                                         help: "Changelog records applied to standby copies.", labels: labels)
    }

    /// Asks the loop to end: it announces that the process leaves and closes its copies.
    func requestStop() { stopFlag.store(true, ordering: .relaxed) }

    /// Runs until stopped.
    func run() {
        while !stopFlag.load(ordering: .relaxed) {
            do {
                if changelogs == nil { try start() }
                try step()
            } catch {
                logger.warning("standby thread failed; retrying in 1 s", metadata: ["error": "\(error)"])
                blockThread(for: .seconds(1))
            }
        }
        leave()
    }

    private func start() throws {
        let changelogs = try factory.makeChangelogs(config: config.kafka, logger: logger)
        try changelogs.ensureTopics([NewTopic(config.membershipTopic, partitions: 1,
                                              configs: ["cleanup.policy": "compact,delete", "retention.ms": "3600000"])])
        producer = try factory.makeProducer(config: StreamsConfig.producerDefaults.merging(config.kafka), logger: logger)
        var groupConfig = StreamsConfig.consumerDefaults.merging(config.kafka)
        groupConfig["group.id"] = config.applicationID
        groupConfig["enable.auto.commit"] = "false"
        // Never subscribed: it only reads the group's committed offsets.
        group = try factory.makeConsumer(config: groupConfig, logger: logger)
        self.changelogs = changelogs
        logger.info("standby thread started", metadata: ["replicas": "\(config.standbyReplicas)",
                                                         "membership": "\(config.membershipTopic)"])
    }

    /// One turn: announce, follow the membership and the committed offsets,
    /// hand claimed tasks over, and apply a batch of changelog records.
    func step() throws {
        let now = clock.now()
        if now >= nextBeat {
            try announce(processTasks.owned, at: now)
            nextBeat = now + Self.heartbeat
        }
        release(processTasks.owned)
        if now >= nextRefresh {
            try place(now: now)
            try refreshCommitted()
            nextRefresh = now + Self.heartbeat
        }
        if moved {
            try changelogs.read(positions)
            moved = false
        }
        try applyChangelogs()
        producer.poll(timeout: .zero)
    }

    /// Writes this process's tasks to the membership topic.
    private func announce(_ tasks: Set<TopicPartition>, at now: Int64) throws {
        try producer.send(topic: membership.topic, partition: membership.partition, key: Array(processID.utf8),
                          value: Membership.encode(tasks), headers: [], timestamp: now, trackOffset: false)
    }

    /// Closes the copies of tasks a stream thread of this process owns now.
    private func release(_ owned: Set<TopicPartition>) {
        for task in standbys.keys where owned.contains(task) { close(task, reason: "taken-over") }
    }

    /// Opens and closes copies to match the placement among live processes.
    private func place(now: Int64) throws {
        members = members.filter { $0.key == processID || now - $0.value.at <= Self.expiry }
        let owned = processTasks.owned
        var owners = members.mapValues(\.tasks)
        owners[processID] = owned
        let stored = StandbyPlacement.standbys(of: processID, owners: owners, replicas: config.standbyReplicas)
            .filter { !topology.stores(forTopic: $0.topic).isEmpty }
        for task in standbys.keys where !stored.contains(task) { close(task, reason: "not-placed-here") }
        for task in stored.sorted() where standbys[task] == nil && processTasks.beginStandby(task) {
            do {
                try open(task)
            } catch {
                processTasks.endStandby(task)
                throw error
            }
        }
    }

    private func open(_ task: TopicPartition) throws {
        let stores = try context.open(topology.stores(forTopic: task.topic), of: task).values
            .sorted { $0.name < $1.name }.map { StandbyStore(task: task, store: $0) }
        standbys[task] = stores
        moved = true
        logger.info("standby task started", metadata: [
            "task": "\(task)", "from": "\(stores.map { "\($0.place.partition)@\($0.next)" })"])
    }

    /// Writes what a task's copies applied and closes their stores.
    private func close(_ task: TopicPartition, reason: String) {
        guard let stores = standbys.removeValue(forKey: task) else { return }
        for s in stores {
            do {
                try s.write()
            } catch {
                logger.warning("standby store write failed on close", metadata: ["task": "\(task)", "error": "\(error)"])
            }
            s.store.bytes.close()
        }
        processTasks.endStandby(task)
        moved = true
        logger.info("standby task closed", metadata: [
            "task": "\(task)", "reason": "\(reason)", "applied": "\(stores.map(\.applied).reduce(0, +))",
            "at": "\(stores.map { "\($0.place.partition)@\($0.next)" })"])
    }

    /// Reads the group's committed offsets of the standby tasks; copies
    /// held at a change whose input is now committed read on.
    private func refreshCommitted() throws {
        guard !standbys.isEmpty else { return }
        for c in try group.committed(standbys.keys.sorted(), timeout: .seconds(10)) {
            for s in standbys[c.topicPartition] ?? [] {
                s.settle()
                if s.commit(c.offset) { moved = true }
            }
        }
    }

    /// The changelog partitions to read, each from its earliest copy not held, and the membership topic.
    private var positions: [TopicPartitionOffset] {
        var from: [TopicPartition: Int64] = [:]
        for s in standbys.values.joined() where !s.isHeld { from[s.place.partition] = min(from[s.place.partition] ?? .max, s.next) }
        return [TopicPartitionOffset(membership, membershipNext)]
            + from.map { TopicPartitionOffset($0.key, $0.value) }.sorted { $0.topicPartition < $1.topicPartition }
    }

    /// Reads a batch of changelog and membership records: the copies apply
    /// what they wait for, then write it with the position reached.
    private func applyChangelogs() throws {
        var byPartition: [TopicPartition: [StandbyStore]] = [:]
        for s in standbys.values.joined() { byPartition[s.place.partition, default: []].append(s) }
        var applied = 0
        let read = try changelogs.poll(maxMessages: StateRestorer.batchSize, timeout: .milliseconds(50)) { m in
            if m.topic == membership.topic {
                learn(m)
                return
            }
            for s in byPartition[TopicPartition(m.topic, m.partition)] ?? [] where m.offset >= s.next && !s.isHeld {
                let before = s.applied
                // A copy that starts waiting may leave its partition to other copies, or to no one.
                if !s.apply(m) { moved = true }
                applied += s.applied - before
            }
        }
        guard read > 0 else { return }
        appliedCounter.add(applied)
        for s in standbys.values.joined() { try s.write() }
    }

    /// Takes a membership record: a process's tasks, or its departure.
    private func learn(_ m: KafkaRecordView) {
        membershipNext = m.offset + 1
        guard let key = m.key else { return }
        let process = String(decoding: key, as: UTF8.self)
        guard process != processID else { return }
        if let value = m.value {
            members[process] = (m.timestamp, Membership.decode(Array(value)))
        } else {
            members[process] = nil
        }
    }

    /// Announces that the process leaves and closes every copy.
    private func leave() {
        for task in standbys.keys.sorted() { close(task, reason: "stopping") }
        guard let producer else { return }
        do {
            try producer.send(topic: membership.topic, partition: membership.partition, key: Array(processID.utf8),
                              value: nil, headers: [], timestamp: clock.now(), trackOffset: false)
            try producer.flush(timeout: .seconds(5))
        } catch {
            logger.warning("could not announce that the process leaves", metadata: ["error": "\(error)"])
        }
        group?.close()
        self.producer = nil
        group = nil
        changelogs = nil
    }
}

/// A membership record's value: one task per line, `<partition> <topic>`
/// (topic names hold no spaces).
enum Membership {
    static func encode(_ tasks: Set<TopicPartition>) -> [UInt8] {
        Array(tasks.sorted().map { "\($0.partition) \($0.topic)\n" }.joined().utf8)
    }

    static func decode(_ value: [UInt8]) -> Set<TopicPartition> {
        Set(value.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let partition = Int32(String(decoding: line[..<space], as: UTF8.self)) else { return nil }
            return TopicPartition(String(decoding: line[(space + 1)...], as: UTF8.self), partition)
        })
    }
}
