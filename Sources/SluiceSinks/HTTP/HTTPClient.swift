import CCurl
import SluiceKafka

/// Concurrent HTTP requests over libcurl's multi interface. Each client
/// has an I/O thread that moves its transfers along, so requests go out
/// and responses come in while the thread that owns the client processes
/// records: ``start(_:tag:)`` queues a request, ``poll(timeout:)`` returns
/// those that finished. Connections are kept alive and reused, and request
/// bodies are compressed on the I/O thread.
///
/// Not thread-safe: one owner thread per client (a stream thread).
public final class HTTPClient {
    private let loop: TransferLoop
    private var outstanding = 0

    /// Creates a client with `settings` and starts its I/O thread.
    public init(settings: HTTPSettings) {
        loop = TransferLoop(settings: settings)
        loop.start()
    }

    /// Ends the I/O thread; requests still under way are abandoned.
    deinit { loop.stop() }

    /// How many requests are started and not yet returned by ``poll(timeout:)``.
    public var inFlight: Int { outstanding }

    /// Queues `request`; its outcome comes back from ``poll(timeout:)`` with `tag`.
    public func start(_ request: HTTPRequest, tag: Int) {
        outstanding += 1
        loop.submit(request, tag: tag)
    }

    /// Returns the requests that finished, waiting up to `timeout` for one
    /// when none has.
    public func poll(timeout: Duration) -> [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] {
        guard outstanding > 0 else { return [] }
        let done = loop.takeFinished(waitingUpTo: timeout)
        outstanding -= done.count
        return done
    }

    /// Sends `request` and waits for its response, however long the
    /// request timeout allows. Meant for set-up calls; its tag is
    /// `Int.min`, which ``start(_:tag:)`` must not be given.
    public func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPTransportError> {
        let tag = Int.min
        start(request, tag: tag)
        while true {
            for finished in poll(timeout: .milliseconds(100)) where finished.tag == tag { return finished.result }
        }
    }
}

/// One easy handle and the buffers of the request it carries.
final class Transfer {
    let easy: UnsafeMutableRawPointer
    var response: [UInt8] = []
    var headerList: UnsafeMutablePointer<curl_slist>?
    /// libcurl writes its error detail here while the transfer runs.
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init() { easy = curl_easy_init()! }

    deinit {
        curl_slist_free_all(headerList)
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }

    func prepare(_ request: HTTPRequest, settings: HTTPSettings) {
        curl_easy_reset(easy)
        response.removeAll(keepingCapacity: true)
        curl_slist_free_all(headerList)
        headerList = nil
        sluice_curl_setopt_ptr(easy, CURLOPT_URL, request.url)
        sluice_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        sluice_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        sluice_curl_setopt_ptr(easy, CURLOPT_ACCEPT_ENCODING, "")
        sluice_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout.wholeMilliseconds))
        sluice_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(settings.requestTimeout.wholeMilliseconds))
        errorBuffer[0] = 0
        sluice_curl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        applyTLS(settings)
        var headers = request.headers
        // A large body must not wait a round trip for "100 Continue".
        headers.append("Expect:")
        switch settings.authentication {
        case .none: break
        case .basic(let user, let password):
            sluice_curl_setopt_long(easy, CURLOPT_HTTPAUTH, sluice_curlauth_basic)
            sluice_curl_setopt_ptr(easy, CURLOPT_USERNAME, user)
            sluice_curl_setopt_ptr(easy, CURLOPT_PASSWORD, password)
        case .apiKey(let key): headers.append("Authorization: ApiKey \(key)")
        case .bearer(let token): headers.append("Authorization: Bearer \(token)")
        }
        var body = request.body
        if settings.gzip, !body.isEmpty, let compressed = Gzip.compress(body) {
            body = compressed
            headers.append("Content-Encoding: gzip")
        }
        for line in headers { headerList = curl_slist_append(headerList, line) }
        sluice_curl_setopt_ptr(easy, CURLOPT_HTTPHEADER, headerList)
        applyMethod(request.method, body: body)
        sluice_curl_setopt_write(easy) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
            transfer.response.append(contentsOf: bytes)
            return size * count
        }
        sluice_curl_setopt_ptr(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque())
    }

    private func applyTLS(_ settings: HTTPSettings) {
        if let ca = settings.caFile { sluice_curl_setopt_ptr(easy, CURLOPT_CAINFO, ca) }
        if let cert = settings.clientCertificate { sluice_curl_setopt_ptr(easy, CURLOPT_SSLCERT, cert) }
        if let key = settings.clientKey { sluice_curl_setopt_ptr(easy, CURLOPT_SSLKEY, key) }
        if !settings.verifyTLS {
            sluice_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
            sluice_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        }
    }

    private func applyMethod(_ method: String, body: [UInt8]) {
        switch method {
        case "GET": sluice_curl_setopt_long(easy, CURLOPT_HTTPGET, 1)
        case "HEAD": sluice_curl_setopt_long(easy, CURLOPT_NOBODY, 1)
        default:
            if method != "POST" { sluice_curl_setopt_ptr(easy, CURLOPT_CUSTOMREQUEST, method) }
            // libcurl copies the body, so the request's array may go away.
            sluice_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { _ = sluice_curl_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)) }
        }
    }

    func finish(_ code: CURLcode) -> Result<HTTPResponse, HTTPTransportError> {
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let text = String(cString: curl_easy_strerror(code))
            return .failure(HTTPTransportError(code: Int(code.rawValue), message: detail.isEmpty ? text : "\(text): \(detail)"))
        }
        var status = 0
        sluice_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, body: response))
    }
}
