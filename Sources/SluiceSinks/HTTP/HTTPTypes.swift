/// One HTTP request.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, `PUT`, `DELETE` or `HEAD`.
    public var method: String
    /// The absolute URL.
    public var url: String
    /// Extra header lines, `Name: value`.
    public var headers: [String]
    /// The body; empty for none.
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String, url: String, headers: [String] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A response: the status and the body.
public struct HTTPResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The body, decompressed.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A request that got no HTTP response: the connection failed, timed out,
/// or TLS did not verify.
public struct HTTPTransportError: Error, CustomStringConvertible, Sendable {
    /// libcurl's result code.
    public var code: Int
    /// What went wrong, with libcurl's detail.
    public var message: String

    /// Creates an error.
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// How requests prove who sends them.
public enum HTTPAuthentication: Sendable, Equatable, CustomStringConvertible {
    /// No credentials.
    case none
    /// HTTP basic authentication.
    case basic(user: String, password: String)
    /// An Elasticsearch API key (the base64 `id:key`), sent as `Authorization: ApiKey …`.
    case apiKey(String)
    /// A bearer token, sent as `Authorization: Bearer …`.
    case bearer(String)

    /// Never shows a secret.
    public var description: String {
        switch self {
        case .none: "none"
        case .basic(let user, _): "basic(user: \(user), password: <redacted>)"
        case .apiKey: "api_key(<redacted>)"
        case .bearer: "bearer(<redacted>)"
        }
    }
}

/// Connection settings shared by every request of a client.
public struct HTTPSettings: Sendable {
    /// How long establishing a connection may take.
    public var connectTimeout = Duration.seconds(5)
    /// How long a whole request may take.
    public var requestTimeout = Duration.seconds(60)
    /// A PEM file of the certificate authorities to trust (TLS).
    public var caFile: String?
    /// A PEM client certificate for mutual TLS.
    public var clientCertificate: String?
    /// The client certificate's PEM private key.
    public var clientKey: String?
    /// Whether the server's certificate and name are verified; turn off only for tests.
    public var verifyTLS = true
    /// The credentials sent with every request.
    public var authentication = HTTPAuthentication.none
    /// Whether request bodies are gzip-compressed.
    public var gzip = false

    /// Default settings: 5 s to connect, 60 s per request, no credentials, no compression.
    public init() {}
}
