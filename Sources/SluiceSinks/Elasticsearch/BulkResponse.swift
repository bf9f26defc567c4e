import SluiceTransforms

/// What Elasticsearch said about one item of a bulk request.
public struct BulkItemResult: Sendable, Equatable {
    /// The item's HTTP status.
    public var status: Int
    /// The error type (`mapper_parsing_exception`, …), if it failed.
    public var errorType: String?
    /// The error's reason, with its cause when Elasticsearch gives one.
    public var reason: String?

    /// Creates a result.
    public init(status: Int, errorType: String? = nil, reason: String? = nil) {
        self.status = status
        self.errorType = errorType
        self.reason = reason
    }
}

/// The parts of a bulk response the sink acts on.
enum BulkResponse {
    /// Every item's result in request order, or `nil` when the body does
    /// not say whether they succeeded. A body whose `errors` is `false`
    /// (Elasticsearch writes it first) means all `count` items succeeded
    /// and is not parsed further.
    static func items(_ body: [UInt8], count: Int) -> [BulkItemResult]? {
        if reportsNoErrors(body) { return Array(repeating: BulkItemResult(status: 200), count: count) }
        guard case .object(let root)? = try? JSONParser.parse(body), case .array(let items)? = root["items"],
              items.count == count else { return nil }
        var results: [BulkItemResult] = []
        results.reserveCapacity(count)
        for item in items {
            guard case .object(let wrapper) = item, wrapper.count == 1, case .object(let fields) = wrapper.entries[0].value,
                  case .int(let status)? = fields["status"] else { return nil }
            let (type, reason) = error(fields["error"])
            results.append(BulkItemResult(status: status, errorType: type, reason: reason))
        }
        return results
    }

    /// The error type and reason of a failed request's body (`{"error": …}`), if it has them.
    static func requestError(_ body: [UInt8]) -> (type: String?, reason: String?) {
        guard case .object(let root)? = try? JSONParser.parse(body) else { return (nil, nil) }
        return error(root["error"])
    }

    /// What a failed answer says: its status (refused credentials named as
    /// such), then the body's error type and reason when it has them.
    static func describe(status: Int, body: [UInt8]) -> String {
        let what = status == 401 || status == 403
            ? "Elasticsearch refused the credentials (\(status))" : "Elasticsearch answered \(status)"
        let (type, reason) = requestError(body)
        let details = [type, reason].compactMap { $0 }
        return details.isEmpty ? what : "\(what): \(details.joined(separator: ": "))"
    }

    private static func error(_ value: FieldValue?) -> (type: String?, reason: String?) {
        switch value {
        case .object(let error)?:
            var reason = error["reason"]?.string
            if case .object(let cause)? = error["caused_by"], let causeReason = cause["reason"]?.string {
                reason = [reason, causeReason].compactMap { $0 }.joined(separator: ": ")
            }
            return (error["type"]?.string, reason)
        case .string(let text)?: return (nil, text)
        default: return (nil, nil)
        }
    }

    /// Whether the body starts `{"took":N,"errors":false`.
    private static func reportsNoErrors(_ body: [UInt8]) -> Bool {
        let marker = Array(#""errors":false"#.utf8)
        let window = body.prefix(64)
        guard window.count >= marker.count else { return false }
        for start in window.startIndex...(window.endIndex - marker.count)
        where window[start..<(start + marker.count)].elementsEqual(marker) {
            return true
        }
        return false
    }
}
