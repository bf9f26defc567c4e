import Foundation
import Sluice
import SluiceKafka
import SluiceTransforms
import Yams

/// Reads topology files into ``TopologySpec``s, reporting every problem at
/// once with its position.
public enum TopologyLoader {
    static let topLevelKeys = ["application", "kafka", "processing", "sources", "destinations", "steps", "tests"]

    /// Loads the file at `path`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigErrors) -> TopologySpec {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
            throw ConfigErrors(diagnostics: [Diagnostic(file: path, line: 1, column: 1, message: "cannot read the file")])
        }
        return try load(yaml: String(decoding: data, as: UTF8.self), file: path, environment: environment)
    }

    /// Loads a topology from YAML text; `file` names it in diagnostics.
    public static func load(yaml: String, file: String, environment: [String: String] = [:]) throws(ConfigErrors) -> TopologySpec {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigErrors(diagnostics: [Diagnostic(file: file, line: 1, column: 1, message: "expected a topology, found an empty file")])
            }
            root = node
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors(diagnostics: [syntaxDiagnostic(error, file: file)])
        }
        let reader = YAMLReader(file: file, environment: environment)
        let spec = read(root, reader)
        guard reader.diagnostics.isEmpty, let spec else {
            throw ConfigErrors(diagnostics: reader.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return spec
    }

    private static func syntaxDiagnostic(_ error: any Error, file: String) -> Diagnostic {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                 .composer(_, let problem, let mark, _):
                return Diagnostic(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                return Diagnostic(file: file, line: context.mark.line, column: context.mark.column,
                                  message: "duplicate keys: \(duplicates.joined(separator: ", "))")
            default: break
            }
        }
        return Diagnostic(file: file, line: 1, column: 1, message: "YAML syntax: \(error)")
    }

    private static func read(_ root: Node, _ reader: YAMLReader) -> TopologySpec? {
        guard let top = reader.mapping(root, "the topology", allowed: topLevelKeys,
                                       required: ["application", "sources", "destinations", "steps"]) else { return nil }
        let application = top["application"].flatMap { reader.string($0, "the application id") }
        if let node = top["application"], let id = application, id.isEmpty || id.contains(where: { !($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
            reader.report(node, "expected an application id of letters, digits, '.', '_' or '-', found '\(id)'")
        }
        var kafka: [String: String] = [:]
        var secrets: Set<String> = []
        if let node = top["kafka"], case .mapping(let mapping) = node {
            for (k, v) in mapping {
                guard let key = reader.string(k, "a Kafka property name"), let value = reader.string(v, "the value of \(key)") else { continue }
                kafka[key] = value
                if KafkaConfig.isSecret(key) || reader.secretValues.contains(value) { secrets.insert(key) }
            }
        } else if let node = top["kafka"] {
            reader.report(node, "expected kafka as a mapping of librdkafka properties (name: value)")
        }
        let processing = top["processing"].flatMap { readProcessing($0, reader) } ?? Processing()
        let sources = top["sources"].flatMap { readSources($0, reader) } ?? []
        let destinations = top["destinations"].flatMap { DestinationReader(reader: reader).destinations($0) } ?? []
        var steps = StepReader(reader: reader, destinations: destinations, statsdSources: sources.contains { $0.format == .statsd })
        let (pipeline, outline) = top["steps"].map { steps.readTopLevel($0) } ?? ([], [])
        let tests = top["tests"].flatMap { readTests($0, reader, destinations: destinations.map(\.name), sources: sources) } ?? []
        guard let application else { return nil }
        return TopologySpec(file: reader.file, application: application, kafka: kafka, secretKafkaProperties: secrets,
                            guarantee: processing.guarantee, threads: processing.threads,
                            standbyReplicas: processing.standbyReplicas,
                            commitIntervalMilliseconds: processing.commitInterval, deadLetterTopic: processing.deadLetterTopic,
                            sources: sources, destinations: destinations, pipeline: Pipeline(pipeline), aggregates: steps.aggregates,
                            stepOutline: outline,
                            tests: tests)
    }

    private struct Processing {
        var guarantee = ProcessingGuarantee.atLeastOnce
        var threads = 1
        var standbyReplicas = 0
        var commitInterval: Int?
        var deadLetterTopic: String?
    }

    private static func readProcessing(_ node: Node, _ reader: YAMLReader) -> Processing? {
        guard let fields = reader.mapping(node, "processing",
                                          allowed: ["guarantee", "threads", "standby_replicas", "commit_interval_ms",
                                                    "dead_letter_topic"]) else { return nil }
        var p = Processing()
        if let n = fields["guarantee"], let g = reader.choice(n, "processing guarantee", as: ProcessingGuarantee.self) { p.guarantee = g }
        if let n = fields["threads"], let t = reader.int(n, "threads", atLeast: 1) { p.threads = t }
        if let n = fields["standby_replicas"], let r = reader.int(n, "standby_replicas", atLeast: 0) { p.standbyReplicas = r }
        if let n = fields["commit_interval_ms"] { p.commitInterval = reader.int(n, "commit_interval_ms", atLeast: 1) }
        if let n = fields["dead_letter_topic"] { p.deadLetterTopic = reader.string(n, "the dead-letter topic") }
        return p
    }

    private static func readSources(_ node: Node, _ reader: YAMLReader) -> [SourceSpec]? {
        guard let items = reader.sequence(node, "sources") else { return nil }
        if items.isEmpty { reader.report(node, "expected at least one source") }
        return items.compactMap { item in
            guard let fields = reader.mapping(item, "a source", allowed: ["name", "topics", "pattern", "format", "timestamp"], required: ["format"]) else { return nil }
            var topics: [String] = []
            switch (fields["topics"], fields["pattern"]) {
            case (let t?, nil): topics = reader.strings(t, "source topics") ?? []
            case (nil, let p?):
                if let pattern = reader.string(p, "a topic pattern") {
                    if !pattern.hasPrefix("^") { reader.report(p, "expected a topic pattern starting with '^' (librdkafka's rule)") }
                    _ = reader.checked(p, "bad topic pattern") { try PCRERegex(pattern) }
                    topics = [pattern]
                }
            case (_?, _?): reader.report(item, "expected either topics or pattern in a source, not both")
            case (nil, nil): reader.report(item, "expected topics or pattern in a source")
            }
            let format = fields["format"].flatMap { reader.choice($0, "source format", as: SourceFormat.self) }
            var timestamp: SourceTimestamp?
            if let node = fields["timestamp"], node.scalar?.string != "kafka" {
                guard let time = StepReader(reader: reader).timeField(node, "a source timestamp (kafka, or field and formats)") else { return nil }
                timestamp = SourceTimestamp(field: time.field, formats: time.formats, defaultOffsetSeconds: time.offset)
            }
            guard let format else { return nil }
            if format == .statsd, let node = fields["timestamp"], node.scalar?.string != "kafka" {
                reader.report(node, "expected no timestamp field for a statsd source: StatsD lines carry no time, so their records' Kafka timestamps are used")
                return nil
            }
            let name = fields["name"].flatMap { reader.string($0, "a source name") }
            return SourceSpec(name: name, topics: topics, format: format, timestamp: timestamp)
        }
    }

    /// `tests:` — each case has a name, input records (text, or mappings
    /// written as JSON) read by the first source or the one `source` names
    /// (by its name or a topic), and per destination the records expected there;
    /// `dead_letter` lists substrings of the expected dead-letter reasons.
    private static func readTests(_ node: Node, _ reader: YAMLReader, destinations: [String],
                                  sources: [SourceSpec]) -> [TopologyTestCase]? {
        guard let items = reader.sequence(node, "tests") else { return nil }
        return items.compactMap { item -> TopologyTestCase? in
            guard let f = reader.mapping(item, "a test case", allowed: ["name", "source", "input", "expect"],
                                         required: ["name", "input", "expect"]),
                  let name = f["name"].flatMap({ reader.string($0, "a test name") }),
                  let inputNodes = f["input"].flatMap({ reader.sequence($0, "test input records") }),
                  let expect = f["expect"] else { return nil }
            guard case .mapping(let expectations) = expect else {
                reader.report(expect, "expected `expect` as a mapping of destination names to lists of records")
                return nil
            }
            let inputs = inputNodes.compactMap { node -> [UInt8]? in
                if case .scalar = node { return reader.string(node, "an input record").map { Array($0.utf8) } }
                return reader.value(node, "an input record").map(JSONWriter.encode)
            }
            var expected: [String: [[ExpectedField]]] = [:], deadLetters: [String] = []
            for (keyNode, value) in expectations {
                guard let destination = reader.string(keyNode, "a destination name") else { continue }
                if destination == "dead_letter" {
                    deadLetters = reader.strings(value, "dead-letter reasons") ?? []
                    continue
                }
                guard destinations.contains(destination) else {
                    reader.report(keyNode, "unknown destination '\(destination)'\(didYouMean(destination, among: destinations)) in test '\(name)'")
                    continue
                }
                guard let records = reader.sequence(value, "the records expected in \(destination)") else { continue }
                expected[destination] = records.compactMap { record -> [ExpectedField]? in
                    guard case .object(let map)? = reader.value(record, "an expected record") else {
                        reader.report(record, "expected an expected record as a mapping of fields to values")
                        return nil
                    }
                    let fields = map.entries.compactMap { field in
                        reader.checked(record, "bad field reference '\(field.key)'") {
                            ExpectedField(path: try FieldPath(field.key), value: field.value)
                        }
                    }
                    return fields.count == map.count ? fields : nil
                }
            }
            var source = 0
            if let node = f["source"], let wanted = reader.string(node, "a source name or topic") {
                guard let i = sources.firstIndex(where: { $0.name == wanted || $0.topics.contains(wanted) }) else {
                    let names = sources.compactMap(\.name) + sources.flatMap(\.topics)
                    reader.report(node, "no source is named '\(wanted)' or reads it\(didYouMean(wanted, among: names)) (sources: \(names.joined(separator: ", ")))")
                    return nil
                }
                source = i
            }
            return TopologyTestCase(name: name, source: source, inputs: inputs, expected: expected, deadLetters: deadLetters)
        }
    }
}

