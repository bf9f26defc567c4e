import SluiceTransforms
import Yams

/// Reads the `steps` list into pipeline steps, checking conditions,
/// regexes, field references and destinations as it goes.
struct StepReader {
    let reader: YAMLReader
    /// The destinations' names, by index.
    let destinations: [String]
    /// The destinations that take only rollups (StatsD and Graphite servers).
    let rollupOnly: Set<String>
    private let aggregateReader: AggregateReader
    /// The aggregate steps read so far; a step sends to aggregate `i` as
    /// destination `destinations.count + i`.
    private(set) var aggregates: [AggregateSpec] = []
    private var counter = 0

    static let kinds = ["where", "filter", "if", "route", "to", "drop", "set", "add", "rename", "copy", "remove", "tag",
                        "convert", "lowercase", "uppercase", "strip", "gsub", "json", "truncate", "date", "grok",
                        "dissect", "kv", "fingerprint", "insert_timestamp", "aggregate"]
    /// Keys any step may carry besides its kind.
    static let common = ["name", "on_failure"]
    /// Kinds whose failures `on_failure` governs, with their default tag (Logstash's names).
    static let failureTags = ["grok": "_grokparsefailure", "dissect": "_dissectfailure", "kv": "_kv_filter_error",
                              "fingerprint": "_fingerprintfailure", "insert_timestamp": "_mutate_error", "convert": "_convertfailure", "json": "_jsonparsefailure", "gsub": "_gsubfailure",
                              "date": "_dateparsefailure", "set": "_mutate_error", "add": "_mutate_error",
                              "rename": "_mutate_error", "copy": "_mutate_error"]

    init(reader: YAMLReader, destinations: [DestinationSpec] = [], statsdSources: Bool = false) {
        self.reader = reader
        self.destinations = destinations.map(\.name)
        rollupOnly = Set(destinations.compactMap { if case .metricLines = $0.target { $0.name } else { nil } })
        aggregateReader = AggregateReader(reader: reader, destinations: destinations, statsdSources: statsdSources)
    }

    /// The top-level steps; every event must end at a destination or a drop.
    mutating func readTopLevel(_ node: Node) -> ([PipelineStep], [StepOutline]) {
        let problemsBefore = reader.diagnostics.count
        let (steps, outline) = readList(node)
        // A step that failed to read is missing from `steps`: checking the end would mislead.
        if reader.diagnostics.count == problemsBefore, let items = reader.sequence(node, "steps"), !endsEveryPath(steps) {
            reader.report(items.last ?? node, "expected the steps to end every event at a destination: finish with `to:`, a `route` with a `default`, or `drop`")
        }
        return (steps, outline)
    }

    private func endsEveryPath(_ steps: [PipelineStep]) -> Bool {
        steps.contains { step in
            switch step {
            case .route, .emit, .tap: true
            case .transform(_, let t, _): t.kind == "drop"
            case .branch(_, _, let then, let otherwise): endsEveryPath(then) && endsEveryPath(otherwise)
            case .filter: false
            }
        }
    }

    private mutating func readList(_ node: Node) -> ([PipelineStep], [StepOutline]) {
        guard let items = reader.sequence(node, "steps") else { return ([], []) }
        var steps: [PipelineStep] = [], outline: [StepOutline] = []
        for item in items {
            guard let (step, line) = readStep(item) else { continue }
            steps.append(step)
            outline.append(line)
        }
        return (steps, outline)
    }

    private mutating func readStep(_ item: Node) -> (PipelineStep, StepOutline)? {
        counter += 1
        if case .scalar(let s) = item, s.string == "drop" {
            return (.transform(name: "drop-\(counter)", .drop, .drop), StepOutline(name: "drop-\(counter)", summary: "drop", destinations: [], children: []))
        }
        guard case .mapping(let mapping) = item else {
            reader.report(item, "expected a step as a mapping such as `where: …` or `set: {…}`")
            return nil
        }
        let keys = mapping.keys.compactMap { $0.scalar?.string }
        let kindKeys = keys.filter { Self.kinds.contains($0) }
        guard kindKeys.count == 1, let kind = kindKeys.first, let body = mapping[kind] else {
            let unknown = keys.first { !Self.kinds.contains($0) && !Self.common.contains($0) && !["then", "else"].contains($0) }
            let hint = unknown.map { didYouMean($0, among: Self.kinds) } ?? ""
            let what = kindKeys.isEmpty ? "expected one step kind (\(Self.kinds.joined(separator: ", ")))\(unknown.map { ", found '\($0)'" } ?? "")\(hint)"
                : "expected one step kind per step, found \(kindKeys.joined(separator: " and "))"
            reader.report(item, what)
            return nil
        }
        let allowed = [kind] + Self.common + (kind == "if" ? ["then", "else"] : [])
        guard let fields = reader.mapping(item, "a \(kind) step", allowed: allowed, required: kind == "if" ? ["then"] : []) else { return nil }
        let name = fields["name"].flatMap { reader.string($0, "a step name") } ?? "\(kind)-\(counter)"
        if let n = fields["on_failure"], Self.failureTags[kind] == nil {
            reader.report(n, "on_failure applies to steps that can fail (\(Self.failureTags.keys.sorted().joined(separator: ", "))), not to \(kind)")
        }
        let policy = failurePolicy(fields["on_failure"], kind: kind)
        var outline = StepOutline(name: name, summary: kind, destinations: [], children: [])
        let step: PipelineStep?
        switch kind {
        case "where", "filter":
            let c = condition(body)
            outline.summary = "\(kind) \(c?.text ?? "")"
            step = c.map { .filter(name: name, $0) }
        case "if":
            let c = condition(body)
            let (then, thenOutline) = fields["then"].map { readList($0) } ?? ([], [])
            let (otherwise, elseOutline) = fields["else"].map { readList($0) } ?? ([], [])
            outline.summary = "if \(c?.text ?? "")"
            outline.children = [StepOutline(name: "then", summary: "then", destinations: [], children: thenOutline)]
                + (fields["else"] == nil ? [] : [StepOutline(name: "else", summary: "else", destinations: [], children: elseOutline)])
            step = c.map { .branch(name: name, $0, then: then, otherwise: otherwise) }
        case "route":
            let rules = routeRules(body)
            outline.summary = "route"
            outline.destinations = rules?.map { destinations[$0.destination] } ?? []
            step = rules.map { .route(name: name, $0) }
        case "aggregate":
            let spec = aggregateReader.aggregate(body, name: fields["name"] == nil ? nil : name, step: item)
            outline.summary = "aggregate \(spec.map { "\($0.options.windows)" } ?? "")"
            outline.destinations = spec?.destinations.map { destinations[$0] } ?? []
            if let spec, !checkAggregateName(spec.name, at: fields["name"] ?? item) { return nil }
            if let spec { aggregates.append(spec) }
            step = spec.map { _ in .tap(name: name, destination: destinations.count + aggregates.count - 1) }
        case "to":
            let d = destination(body)
            outline.destinations = d.map { [destinations[$0]] } ?? []
            outline.summary = "to \(d.map { destinations[$0] } ?? "")"
            step = d.map { .emit(name: name, destination: $0) }
        default:
            let t = transform(kind, body)
            step = t.map { .transform(name: name, $0, policy) }
        }
        guard let step else { return nil }
        return (step, outline)
    }

    /// Node names of the engine topology a topology file compiles to.
    static let engineNodeNames = ["steps", "sources", "aggregates", "outputs", "capture", "destinations", "to-topics"]

    /// An aggregate's name names its store and changelog: it must be its own.
    private func checkAggregateName(_ name: String, at node: Node) -> Bool {
        if aggregates.contains(where: { $0.name == name }) {
            reader.report(node, "expected each aggregate step to have its own name: '\(name)' would share a state store and changelog")
            return false
        }
        if Self.engineNodeNames.contains(name) || name.hasPrefix("source-") || name.hasPrefix("decode-") || name.hasPrefix("to-") {
            reader.report(node, "'\(name)' is a name the engine uses for its own steps: choose another for this aggregate")
            return false
        }
        return true
    }

    private func failurePolicy(_ node: Node?, kind: String) -> FailurePolicy {
        let fallback = FailurePolicy.tag(Self.failureTags[kind] ?? "_\(kind)failure")
        guard let node, let text = reader.string(node, "on_failure") else { return fallback }
        switch text {
        case "tag": return fallback
        case "dlq": return .deadLetter
        case "drop": return .drop
        default:
            let hint = didYouMean(text, among: ["tag", "dlq", "drop"])
            reader.report(node, "unknown on_failure '\(text)'\(hint) (expected tag, dlq or drop)")
            return fallback
        }
    }

    func condition(_ node: Node) -> Condition? {
        guard let text = reader.string(node, "a condition") else { return nil }
        return reader.checked(node, "bad condition") { try Condition(text) }
    }

    func field(_ node: Node, _ text: String) -> FieldPath? {
        reader.checked(node, "bad field reference") { try FieldPath(text) }
    }

    /// The field a scalar node names.
    func field(_ node: Node) -> FieldPath? {
        reader.string(node, "a field").flatMap { field(node, $0) }
    }

    func destination(_ node: Node) -> Int? {
        guard let name = reader.string(node, "a destination") else { return nil }
        if rollupOnly.contains(name) {
            reader.report(node, "destination '\(name)' takes only rollups (StatsD or Graphite lines): name it in an aggregate step's `to`")
            return nil
        }
        if let index = destinations.firstIndex(of: name) { return index }
        let hint = didYouMean(name, among: destinations)
        reader.report(node, "unknown destination '\(name)'\(hint) (declared: \(destinations.joined(separator: ", ")))")
        return nil
    }

    private func routeRules(_ node: Node) -> [(condition: Condition?, destination: Int)]? {
        guard let items = reader.sequence(node, "route rules") else { return nil }
        var rules: [(condition: Condition?, destination: Int)] = []
        var failed = false
        for (i, item) in items.enumerated() {
            guard let fields = reader.mapping(item, "a route rule", allowed: ["when", "to", "default"]) else { failed = true; continue }
            if let d = fields["default"] {
                if fields["when"] != nil || fields["to"] != nil { reader.report(item, "expected a default rule to have only `default: destination`") }
                if i != items.count - 1 { reader.report(item, "expected the default rule last: rules after it could never match") }
                if let dest = destination(d) { rules.append((nil, dest)) } else { failed = true }
                continue
            }
            guard let w = fields["when"], let t = fields["to"] else {
                reader.report(item, "expected a route rule with `when:` and `to:`, or `default:`")
                failed = true
                continue
            }
            if let c = condition(w), let dest = destination(t) { rules.append((c, dest)) } else { failed = true }
        }
        if !items.isEmpty, !rules.contains(where: { $0.condition == nil }), !failed {
            reader.report(items.last!, "expected a route to end with `default: destination` so that no event is left without one")
        }
        return failed ? nil : rules
    }
}
