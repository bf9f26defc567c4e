import CCurl
import SluiceKafka

/// Concurrent HTTP requests over libcurl's multi interface, driven by the
/// thread that owns the client: ``start(_:tag:)`` queues a request,
/// ``poll(timeout:)`` moves every transfer along and returns those that
/// finished. Connections are kept alive and reused between requests.
///
/// Not thread-safe: one client per stream thread.
public final class HTTPClient {
    private let settings: HTTPSettings
    private let multi: UnsafeMutableRawPointer
    private var idle: [Transfer] = []
    private var running: [Int: Transfer] = [:]

    /// Creates a client with `settings`.
    public init(settings: HTTPSettings) {
        _ = HTTPClient.globalInit
        self.settings = settings
        multi = curl_multi_init()!
    }

    deinit {
        for transfer in running.values {
            curl_multi_remove_handle(multi, transfer.easy)
        }
        curl_multi_cleanup(multi)
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    /// How many requests are under way.
    public var inFlight: Int { running.count }

    /// Queues `request`; its outcome comes back from ``poll(timeout:)`` with `tag`.
    public func start(_ request: HTTPRequest, tag: Int) {
        let transfer = idle.popLast() ?? Transfer()
        transfer.prepare(request, settings: settings)
        running[tag] = transfer
        curl_multi_add_handle(multi, transfer.easy)
    }

    /// Moves every transfer along, waiting up to `timeout` for one to
    /// finish, and returns the finished ones.
    public func poll(timeout: Duration) -> [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] {
        guard !running.isEmpty else { return [] }
        var stillRunning: Int32 = 0
        curl_multi_perform(multi, &stillRunning)
        var done = collect()
        if done.isEmpty, timeout > .zero {
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, Int32(clamping: timeout.wholeMilliseconds), &ready)
            curl_multi_perform(multi, &stillRunning)
            done = collect()
        }
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

    private func collect() -> [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] {
        var done: [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] = []
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let (tag, transfer) = running.first(where: { $0.value.easy == easy }) else { continue }
            curl_multi_remove_handle(multi, easy)
            running[tag] = nil
            done.append((tag, transfer.finish(code)))
            idle.append(transfer)
        }
        return done
    }
}

/// One easy handle and the buffers of the request it carries.
private final class Transfer {
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
