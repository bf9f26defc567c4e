import Sluice
/// How `sluice describe` draws a topology.
public enum DescriptionFormat: String, Sendable, CaseIterable {
    /// An indented outline.
    case text
    /// Graphviz.
    case dot
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    case mermaid
}

extension TopologySpec {
    /// The topics the topology reads.
    public var inputTopics: [String] { sources.flatMap(\.topics) }

    /// The topics it writes: its destinations' and the dead-letter topic.
    public var outputTopics: [String] {
        var seen = Set<String>()
        return (destinations.compactMap(\.topic) + [effectiveDeadLetterTopic]).filter { seen.insert($0).inserted }
    }

    /// Topics Sluice creates for itself: each aggregate's repartition topic
    /// (unless it says `repartition: false`) and its store's changelog.
    public var internalTopics: [String] {
        aggregates.flatMap { aggregate in
            (aggregate.repartition ? [repartitionTopic(of: aggregate)] : [])
                + [StreamsConfig.changelogTopic(applicationID: application, store: aggregate.name)]
        }
    }

    /// The processor graph in `format`.
    public func describe(_ format: DescriptionFormat) -> String {
        switch format {
        case .text: describeText()
        case .dot: describeGraph(dot: true)
        case .mermaid: describeGraph(dot: false)
        }
    }

    private func describeText() -> String {
        var lines = ["topology \(application) (\(guarantee.rawValue), \(threads) thread\(threads == 1 ? "" : "s"))"]
        for source in sources { lines.append("  source \(source.format.rawValue): \(source.topics.joined(separator: ", "))") }
        func outline(_ steps: [StepOutline], _ indent: String) {
            for step in steps {
                let to = step.destinations.isEmpty ? "" : " → \(step.destinations.joined(separator: ", "))"
                lines.append("\(indent)\(step.name): \(step.summary)\(to)")
                outline(step.children, indent + "  ")
            }
        }
        lines.append("  steps")
        outline(stepOutline, "    ")
        lines.append("  destinations")
        for d in destinations { lines.append("    \(d.name) → \(d.label)") }
        lines.append("  dead letters → topic \(effectiveDeadLetterTopic)")
        lines.append("reads: \(inputTopics.joined(separator: ", "))")
        lines.append("writes: \(outputTopics.joined(separator: ", "))")
        lines.append("internal topics: \(internalTopics.isEmpty ? "none" : internalTopics.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }

    /// Sources, the steps in order and the destinations as a graph; a step
    /// with destinations has an edge to each.
    private func describeGraph(dot: Bool) -> String {
        var nodes: [(id: String, label: String)] = []
        var edges: [(String, String)] = []
        for (i, source) in sources.enumerated() { nodes.append(("source\(i)", "\(source.format.rawValue): \(source.topics.joined(separator: ", "))")) }
        for (i, d) in destinations.enumerated() { nodes.append(("dest\(i)", "\(d.name) → \(d.label)")) }
        nodes.append(("dlq", "dead letters → \(effectiveDeadLetterTopic)"))
        var previous = sources.indices.map { "source\($0)" }
        var counter = 0
        func add(_ steps: [StepOutline], after: [String]) -> [String] {
            var tails = after
            for step in steps {
                counter += 1
                let id = "step\(counter)"
                nodes.append((id, "\(step.name): \(step.summary)"))
                edges += tails.map { ($0, id) }
                for name in step.destinations {
                    if let d = destinations.firstIndex(where: { $0.name == name }) { edges.append((id, "dest\(d)")) }
                }
                tails = step.children.isEmpty ? [id] : step.children.flatMap { add($0.children, after: [id]) }
            }
            return tails
        }
        previous = add(stepOutline, after: previous)
        edges.append(("steps", "dlq"))
        func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "'") + "\"" }
        if dot {
            var out = ["digraph \(quoted(application)) {", "  rankdir=LR;", "  node [shape=box];",
                       "  steps [label=\"any step that fails\", shape=note];"]
            out += nodes.map { "  \($0.id) [label=\(quoted($0.label))];" }
            out += edges.map { "  \($0.0) -> \($0.1);" }
            return (out + ["}"]).joined(separator: "\n")
        }
        var out = ["flowchart LR", "  steps[\"any step that fails\"]"]
        out += nodes.map { "  \($0.id)[\(quoted($0.label))]" }
        out += edges.map { "  \($0.0) --> \($0.1)" }
        return out.joined(separator: "\n")
    }
}
