import Foundation
import Sluice
import Synchronization
import Testing
@testable import SluiceSinks

/// A small HTTP/1.1 server on a loopback port, a thread per connection, that answers every
/// request with `200 ok` once `delay` has passed, counting the requests it
/// has read in full. Keep-alive: one connection serves many requests.
final class LoopbackServer: Sendable {
    let port: Int
    private let listener: Int32
    private let received = Atomic<Int>(0)
    private let delay: Double

    init(delay seconds: Double = 0) throws {
        delay = seconds
        let (socket, bound) = try listeningSocket(host: "127.0.0.1", port: 0)
        listener = socket
        port = Int(bound)
        Thread { [self] in acceptLoop() }.start()
    }

    /// Requests read in full so far.
    var requests: Int { received.load(ordering: .acquiring) }

    var url: String { "http://127.0.0.1:\(port)/" }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            while let length = Self.completeRequestLength(pending) {
                pending.removeFirst(length)
                received.add(1, ordering: .releasing)
                if delay > 0 { Thread.sleep(forTimeInterval: delay) }
                let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
                guard send(connection, answer, answer.count, 0) == answer.count else { return }
            }
            let n = recv(connection, &chunk, chunk.count, 0)
            guard n > 0 else { return }
            pending += chunk[0..<n]
        }
    }

    /// The length of the first request in `bytes` if all of it has arrived.
    private static func completeRequestLength(_ bytes: [UInt8]) -> Int? {
        let separator = Array("\r\n\r\n".utf8)
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self).lowercased()
        let bodyLength = head.split(separator: "\r\n")
            .first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let total = end + 4 + bodyLength
        return bytes.count >= total ? total : nil
    }
}

/// The HTTP client moves requests on its own I/O thread: the thread that
/// owns it only queues requests and collects what finished.
@Suite struct HTTPClientTests {
    @Test func aStartedRequestGoesOutAndIsAnsweredWithoutTheOwnerPolling() throws {
        let server = try LoopbackServer()
        let client = HTTPClient(settings: HTTPSettings())
        client.start(HTTPRequest(method: "POST", url: server.url, body: Array(repeating: 120, count: 200_000)), tag: 7)
        let deadline = ContinuousClock.now + .seconds(30)
        while server.requests == 0, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(server.requests == 1, "the whole request reached the server before any poll")
        var done: [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] = []
        while done.isEmpty, ContinuousClock.now < deadline { done = client.poll(timeout: .milliseconds(100)) }
        #expect(done.map(\.tag) == [7])
        #expect(try done.first?.result.get().text == "ok")
        #expect(client.inFlight == 0)
    }

    @Test func pollWaitsUpToItsTimeoutForAResponseAndReturnsEachOutcomeOnceWithItsTag() throws {
        let server = try LoopbackServer(delay: 0.05)
        let client = HTTPClient(settings: HTTPSettings())
        for tag in 0..<20 { client.start(HTTPRequest(method: "GET", url: server.url), tag: tag) }
        #expect(client.inFlight == 20)
        var tags: [Int] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while tags.count < 20, ContinuousClock.now < deadline {
            let done = client.poll(timeout: .seconds(5))
            #expect(!done.isEmpty || ContinuousClock.now >= deadline, "a poll with a timeout returns once something finished")
            for outcome in done {
                tags.append(outcome.tag)
                #expect(try outcome.result.get().status == 200)
            }
        }
        #expect(tags.sorted() == Array(0..<20))
        #expect(client.inFlight == 0)
        #expect(client.poll(timeout: .milliseconds(10)).isEmpty)
    }

    @Test func aRefusedConnectionIsATransportErrorForItsRequest() throws {
        let url = "http://127.0.0.1:1/"  // nothing listens on port 1
        let client = HTTPClient(settings: HTTPSettings())
        guard case .failure(let error) = client.perform(HTTPRequest(method: "GET", url: url)) else {
            Issue.record("a request to a closed port succeeded")
            return
        }
        #expect(error.message.contains("onnect"), "\(error.message)")
    }

    @Test func aClientDroppedWithRequestsUnderWayEndsItsIOThreadCleanly() throws {
        let server = try LoopbackServer(delay: 2)
        var client: HTTPClient? = HTTPClient(settings: HTTPSettings())
        for tag in 0..<4 { client?.start(HTTPRequest(method: "GET", url: server.url), tag: tag) }
        Thread.sleep(forTimeInterval: 0.1)
        client = nil
        // A new client still works: the dropped one released libcurl's handles.
        let fresh = try LoopbackServer()
        let response = try HTTPClient(settings: HTTPSettings()).perform(HTTPRequest(method: "GET", url: fresh.url)).get()
        #expect(response.status == 200)
    }
}
