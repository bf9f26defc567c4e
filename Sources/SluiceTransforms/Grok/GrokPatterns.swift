/// Named regular expressions that grok expressions refer to as
/// `%{NAME}`: the shipped core and httpd patterns, plus any a topology
/// defines inline or in pattern files.
///
/// Field names follow the Elastic Common Schema, as Logstash 8's grok does
/// by default (`[source][address]`, `[http][response][status_code]`, …).
public struct GrokPatterns: Sendable {
    /// Pattern text by name; a later definition replaces an earlier one.
    public private(set) var definitions: [String: String]

    /// The shipped bank.
    public init() { definitions = GrokPatterns.shipped }

    /// Why a pattern file cannot be read, and on which line.
    public struct FileError: Error, Sendable, CustomStringConvertible {
        /// 1-based line in the file.
        public var line: Int
        /// What is wrong there.
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Adds or replaces one pattern.
    public mutating func define(_ name: String, _ pattern: String) {
        definitions[name] = pattern
    }

    /// Adds the patterns of a file in Logstash's format: one `NAME pattern`
    /// per line, `#` comments and blank lines ignored.
    public mutating func load(file text: String) throws(FileError) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw FileError(line: index + 1, message: "expected `NAME pattern`, found only '\(line)'")
            }
            let name = String(line[..<space])
            guard GrokPatterns.isName(name) else {
                throw FileError(line: index + 1, message: "expected a pattern name of letters, digits and '_', found '\(name)'")
            }
            define(name, String(line[space...].trimmingWhitespace()))
        }
    }

    /// Whether `text` can name a pattern: letters, digits and `_`.
    public static func isName<S: StringProtocol>(_ text: S) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 < 0x80 && Character(UnicodeScalar($0)).isLetter) || (0x30...0x39).contains($0) }
    }

    private static let shipped: [String: String] = core.merging(httpd) { $1 }

    /// General-purpose patterns: numbers, words, addresses, paths, times, levels.
    static let core: [String: String] = [
        "USERNAME": #"[a-zA-Z0-9._-]+"#,
        "USER": "%{USERNAME}",
        "EMAILLOCALPART": #"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}"#,
        "EMAILADDRESS": "%{EMAILLOCALPART}@%{HOSTNAME}",
        "INT": #"[+-]?[0-9]+"#,
        "BASE10NUM": #"(?<![0-9.+-])(?>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))"#,
        "NUMBER": "%{BASE10NUM}",
        "BASE16NUM": #"(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?[0-9A-Fa-f]+)"#,
        "POSINT": #"\b[1-9][0-9]*\b"#,
        "NONNEGINT": #"\b[0-9]+\b"#,
        "WORD": #"\b\w+\b"#,
        "NOTSPACE": #"\S+"#,
        "SPACE": #"\s*"#,
        "DATA": ".*?",
        "GREEDYDATA": ".*",
        "QUOTEDSTRING": #"(?>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)"#,
        "QS": "%{QUOTEDSTRING}",
        "UUID": #"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"#,
        "MAC": #"(?:(?:[A-Fa-f0-9]{2}[:-]){5}[A-Fa-f0-9]{2}|(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})"#,
        "IPV4": #"(?<![0-9])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?![0-9])"#,
        "IPV6": ipv6,
        "IP": "(?:%{IPV6}|%{IPV4})",
        "HOSTNAME": #"\b(?:[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?)(?:\.(?:[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?))*\.?(?![0-9A-Za-z-])"#,
        "IPORHOST": "(?:%{IP}|%{HOSTNAME})",
        "HOSTPORT": "%{IPORHOST}:%{POSINT}",
        "UNIXPATH": #"(?:/[^/\s?#]*)+"#,
        "PATH": "%{UNIXPATH}",
        "URIPROTO": #"[A-Za-z][A-Za-z0-9+.-]*"#,
        "URIHOST": "%{IPORHOST}(?::%{POSINT})?",
        "URIPATH": #"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"#,
        "URIQUERY": #"[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"#,
        "URIPATHPARAM": #"%{URIPATH}(?:\?%{URIQUERY})?"#,
        "URI": #"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?%{URIHOST}?%{URIPATHPARAM}?"#,
        "MONTH": #"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b"#,
        "MONTHNUM": #"(?:0?[1-9]|1[0-2])"#,
        "MONTHDAY": #"(?:0[1-9]|[12][0-9]|3[01]|[1-9])"#,
        "DAY": #"\b(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)\b"#,
        "YEAR": #"(?>\d\d){1,2}"#,
        "HOUR": #"(?:2[0123]|[01]?[0-9])"#,
        "MINUTE": #"(?:[0-5][0-9])"#,
        "SECOND": #"(?:60|[0-5]?[0-9])(?:[.,][0-9]+)?"#,
        "TIME": #"(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])"#,
        "DATE_US": "%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
        "DATE_EU": #"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"#,
        "DATE": "%{DATE_US}|%{DATE_EU}",
        "ISO8601_TIMEZONE": "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
        "ISO8601_SECOND": "%{SECOND}",
        "TIMESTAMP_ISO8601": "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
        "HTTPDATE": "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
        "SYSLOGTIMESTAMP": "%{MONTH} +%{MONTHDAY} %{TIME}",
        "LOGLEVEL": #"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo(?:rmation)?|INFO(?:RMATION)?|[Ww]arn(?:ing)?|WARN(?:ING)?|[Ee]rr(?:or)?|ERR(?:OR)?|[Cc]rit(?:ical)?|CRIT(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|[Ee]merg(?:ency)?|EMERG(?:ENCY)?)"#,
    ]

    /// Eight groups of up to four hex digits, with `::` standing for a run
    /// of zero groups, optionally ending in a dotted IPv4 and a zone.
    private static let ipv6: String = {
        let h = "[0-9A-Fa-f]{1,4}"
        let v4 = #"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"#
        var forms = ["(?:\(h):){7}(?:\(h)|:)", "(?:\(h):){6}(?:\(v4)|:\(h)|:)"]
        for before in 1...5 {
            // `before` groups, `::`, then fewer groups and an IPv4, or up to 7 - before groups;
            // the IPv4 forms come first so that `::ffff:192.0.2.1` is not cut at `192`.
            let after = 7 - before
            forms.append("(?:\(h):){\(before)}(?:(?::\(h)){0,\(after - 2)}:\(v4)|(?::\(h)){1,\(after)}|:)")
        }
        forms.append("(?::(?:(?::\(h)){0,5}:\(v4)|(?::\(h)){1,7}|:))")
        return "(?<![0-9A-Fa-f:])(?:" + forms.joined(separator: "|") + ")(?:%[0-9A-Za-z.]+)?(?![0-9A-Fa-f:])"
    }()

    /// Apache httpd (and nginx, which writes the same access format) logs.
    static let httpd: [String: String] = [
        "HTTPDUSER": "%{EMAILADDRESS}|%{USER}",
        "HTTPDERROR_DATE": "%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}",
        "HTTPD_COMMONLOG": #"%{IPORHOST:[source][address]} (?:-|%{HTTPDUSER:[apache][access][user][identity]}) "#
            + #"(?:-|%{HTTPDUSER:[user][name]}) \[%{HTTPDATE:timestamp}\] "#
            + #""(?:%{WORD:[http][request][method]} %{NOTSPACE:[url][original]}(?: HTTP/%{NUMBER:[http][version]})?|%{DATA})" "#
            + #"(?:-|%{INT:[http][response][status_code]:int}) (?:-|%{INT:[http][response][body][bytes]:int})"#,
        "HTTPD_COMBINEDLOG": #"%{HTTPD_COMMONLOG} "(?:-|%{DATA:[http][request][referrer]})" "(?:-|%{DATA:[user_agent][original]})""#,
        "HTTPD20_ERRORLOG": #"\[%{HTTPDERROR_DATE:timestamp}\] \[%{LOGLEVEL:[log][level]}\] "#
            + #"(?:\[client %{IPORHOST:[source][address]}\] )?%{GREEDYDATA:message}"#,
        "HTTPD24_ERRORLOG": #"\[%{HTTPDERROR_DATE:timestamp}\] \[(?:%{WORD:[apache][error][module]})?:%{LOGLEVEL:[log][level]}\] "#
            + #"\[pid %{POSINT:[process][pid]:int}(?::tid %{INT:[process][thread][id]:int})?\]"#
            + #"(?: \(%{POSINT:[apache][error][proxy][error][code]}\)%{DATA:[apache][error][proxy][error][message]}:)?"#
            + #"(?: \[client %{IPORHOST:[source][address]}(?::%{POSINT:[source][port]:int})?\])?"#
            + #"(?: %{DATA:[error][code]}:)? %{GREEDYDATA:message}"#,
        "HTTPD_ERRORLOG": "%{HTTPD20_ERRORLOG}|%{HTTPD24_ERRORLOG}",
        "COMMONAPACHELOG": "%{HTTPD_COMMONLOG}",
        "COMBINEDAPACHELOG": "%{HTTPD_COMBINEDLOG}",
    ]
}
