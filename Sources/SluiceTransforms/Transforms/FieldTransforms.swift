import Sluice

/// The value a `set` or `add` writes: a literal, or text rendered from a template.
public enum SetValue: Sendable, Equatable {
    case literal(FieldValue)
    case template(Template)

    /// The value for `event` of a record at `timestamp` (for `%{+yyyy.MM.dd}`).
    func value(for event: Event, timestamp: Int64) -> FieldValue {
        switch self {
        case .literal(let v): v
        case .template(let t): .string(t.render(event, timestamp: timestamp))
        }
    }
}

/// The target types of `convert`.
public enum Conversion: String, Sendable, CaseIterable {
    case integer, float, boolean, string
}

/// The text changes of `lowercase`, `uppercase` and `strip`.
public enum TextChange: String, Sendable {
    case lowercase, uppercase, strip
}

extension Transform {
    /// Sets fields; with `overwrite: false` (Logstash's `add_field`) an
    /// existing field is left as it is.
    public static func set(_ fields: [(FieldPath, SetValue)], overwrite: Bool = true) -> Transform {
        Transform(kind: overwrite ? "set" : "add") { record in
            for (path, value) in fields where overwrite || record.value[path] == nil {
                guard record.value.set(path, to: value.value(for: record.value, timestamp: record.timestamp)) else {
                    return .notAnObject(path)
                }
            }
            return .keep
        }
    }

    /// Moves fields to new names; a missing source is skipped.
    public static func rename(_ pairs: [(FieldPath, FieldPath)]) -> Transform {
        transfer("rename", pairs, keepingSource: false)
    }

    /// Copies fields to new names, replacing what is there.
    public static func copy(_ pairs: [(FieldPath, FieldPath)]) -> Transform {
        transfer("copy", pairs, keepingSource: true)
    }

    private static func transfer(_ kind: String, _ pairs: [(FieldPath, FieldPath)], keepingSource: Bool) -> Transform {
        Transform(kind: kind) { record in
            for (from, to) in pairs {
                guard let value = record.value[from] else { continue }
                // Removed first, as Logstash does, so that `service` can become `[service][name]`.
                if !keepingSource { record.value[from] = nil }
                guard record.value.set(to, to: value) else {
                    if !keepingSource { record.value[from] = value }
                    return .notAnObject(to)
                }
            }
            return .keep
        }
    }

    /// Removes fields.
    public static func remove(_ paths: [FieldPath]) -> Transform {
        Transform(kind: "remove") { record in
            for path in paths { record.value[path] = nil }
            return .keep
        }
    }

    /// Adds tags to the `tags` field.
    public static func tag(_ tags: [String]) -> Transform {
        Transform(kind: "tag") { record in
            record.value.addTags(tags)
            return .keep
        }
    }

    /// Drops every event that reaches it.
    public static let drop = Transform(kind: "drop") { _ in .drop }

    /// Converts fields to another type, element-wise for arrays. A value
    /// that does not convert fails the step (see ``FailurePolicy``).
    public static func convert(_ fields: [(FieldPath, Conversion)]) -> Transform {
        Transform(kind: "convert") { record in
            for (path, conversion) in fields {
                guard let value = record.value[path] else { continue }
                guard let converted = value.converted(to: conversion) else {
                    return .failed("cannot convert \(path) (\(value.kindName) \(value.text)) to \(conversion.rawValue)")
                }
                record.value[path] = converted
            }
            return .keep
        }
    }

    /// Lowercases, uppercases or strips the whitespace around string fields.
    public static func text(_ change: TextChange, _ paths: [FieldPath]) -> Transform {
        Transform(kind: change.rawValue) { record in
            for path in paths {
                guard case .string(let s)? = record.value[path] else { continue }
                switch change {
                case .lowercase: record.value[path] = .string(s.lowercased())
                case .uppercase: record.value[path] = .string(s.uppercased())
                case .strip: record.value[path] = .string(String(s.trimmingWhitespace()))
                }
            }
            return .keep
        }
    }

    /// Replaces every match of a regex in string fields (`$1`, `${name}` in
    /// the replacement refer to groups).
    public static func gsub(_ rules: [(FieldPath, PCRERegex, String)]) -> Transform {
        Transform(kind: "gsub") {
            let matchers = rules.map { PCRERegex.Matcher($0.1) }
            return { record in
                for (i, (path, regex, replacement)) in rules.enumerated() {
                    guard case .string(let s)? = record.value[path] else { continue }
                    guard let replaced = matchers[i].replaceAll(in: s, with: replacement) else {
                        return .failed("replacement '\(replacement)' is not valid for /\(regex.pattern)/")
                    }
                    record.value[path] = .string(replaced)
                }
                return .keep
            }
        }
    }

    /// Parses a string field as JSON into `target` (the top level when
    /// `nil`, where an object's fields are merged into the event).
    public static func json(source: FieldPath, target: FieldPath?) -> Transform {
        Transform(kind: "json") { record in
            guard case .string(let text)? = record.value[source] else { return .keep }
            let parsed: FieldValue
            do { parsed = try JSONParser.parse(Array(text.utf8)) } catch { return .failed("\(source): \(error)") }
            if let target {
                record.value[target] = parsed
            } else if case .object(let map) = parsed {
                for field in map.entries { record.value[field.key] = field.value }
            } else {
                return .failed("\(source) holds JSON that is not an object and no target is set")
            }
            return .keep
        }
    }

    /// Cuts string fields to at most `maxBytes` UTF-8 bytes, never inside a character.
    public static func truncate(_ paths: [FieldPath], maxBytes: Int) -> Transform {
        Transform(kind: "truncate") { record in
            for path in paths {
                guard case .string(let s)? = record.value[path], s.utf8.count > maxBytes else { continue }
                var end = s.utf8.index(s.utf8.startIndex, offsetBy: maxBytes)
                while end.samePosition(in: s.unicodeScalars) == nil && end > s.startIndex { end = s.utf8.index(before: end) }
                record.value[path] = .string(String(s[..<end]))
            }
            return .keep
        }
    }
}

extension TransformResult {
    /// The failure of writing below a value that is not an object.
    static func notAnObject(_ path: FieldPath) -> TransformResult {
        .failed("cannot set \(path): a value on the way there is not an object")
    }
}

extension FieldValue {
    /// This value as `conversion` asks, or `nil` if it does not convert.
    func converted(to conversion: Conversion) -> FieldValue? {
        if case .array(let values) = self {
            let converted = values.compactMap { $0.converted(to: conversion) }
            return converted.count == values.count ? .array(converted) : nil
        }
        switch (conversion, self) {
        case (.string, _): return .string(text)
        case (.integer, .int): return self
        case (.integer, .double(let d)): return Int(exactly: d.rounded(.towardZero)).map(FieldValue.int)
        case (.integer, .bool(let b)): return .int(b ? 1 : 0)
        case (.integer, .string(let s)):
            let t = s.trimmingWhitespace()
            if let i = Int(t) { return .int(i) }
            return Double(t).flatMap { FieldValue.double($0).converted(to: .integer) }
        case (.float, .int(let i)): return .double(Double(i))
        case (.float, .double): return self
        case (.float, .string(let s)): return Double(s.trimmingWhitespace()).map(FieldValue.double)
        case (.boolean, .bool): return self
        case (.boolean, .int(let i)) where i == 0 || i == 1: return .bool(i == 1)
        case (.boolean, .string(let s)):
            switch s.trimmingWhitespace().lowercased() {
            case "true", "t", "yes", "y", "1": return .bool(true)
            case "false", "f", "no", "n", "0": return .bool(false)
            default: return nil
            }
        default: return nil
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace.
    func trimmingWhitespace() -> SubSequence {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}

extension Transform {
    /// Reads the time in `source` with the first of `formats` that matches,
    /// writes it to `target` as ISO 8601 in UTC and makes it the record's
    /// timestamp (as Logstash's `date` filter sets `@timestamp`). A present
    /// value that no format reads fails the step; a missing one is skipped.
    public static func date(source: FieldPath, formats: [DateFormat], target: FieldPath,
                            defaultOffsetSeconds: Int = 0) -> Transform {
        Transform(kind: "date") { record in
            guard let value = record.value[source] else { return .keep }
            let text = value.text
            guard let milliseconds = formats.parse(text, defaultOffsetSeconds: defaultOffsetSeconds) else {
                return .failed("\(source) '\(text)' matches none of \(formats.map(\.description))")
            }
            record.value[target] = .string(iso8601(milliseconds: milliseconds))
            record.timestamp = milliseconds
            return .keep
        }
    }
}

/// How `insert_timestamp` writes the record's time.
public enum TimestampFormat: String, Sendable, CaseIterable {
    /// Milliseconds since the epoch, a number (what Kafka Connect's InsertField writes for schemaless JSON).
    case unixMilliseconds = "unix_ms"
    /// ISO 8601 in UTC with milliseconds.
    case iso8601
}

extension Transform {
    /// Writes the record's timestamp (the Kafka record's, or what a `date`
    /// step or the source's `timestamp` set) into `target`, as Kafka
    /// Connect's InsertField transform does with `timestamp.field`.
    public static func insertTimestamp(_ target: FieldPath, format: TimestampFormat = .unixMilliseconds) -> Transform {
        Transform(kind: "insert_timestamp") { record in
            let value: FieldValue = switch format {
            case .unixMilliseconds: .int(Int(record.timestamp))
            case .iso8601: .string(iso8601(milliseconds: record.timestamp))
            }
            return record.value.set(target, to: value) ? .keep : .notAnObject(target)
        }
    }
}
