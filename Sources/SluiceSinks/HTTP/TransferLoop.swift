import CCurl
import Foundation
import Sluice
import SluiceKafka

/// The I/O thread of an ``HTTPClient``: it owns the libcurl multi handle,
/// adds the requests the owner submits, and hands back finished ones.
/// Only the queues cross threads, under one lock, once per batch of
/// requests or results, never per record.
final class TransferLoop: @unchecked Sendable {
    typealias Outcome = (tag: Int, result: Result<HTTPResponse, HTTPTransportError>)

    private let settings: HTTPSettings
    private let multi: UnsafeMutableRawPointer
    /// Guards `submitted`, `finished` and `stopping`, and signals new results.
    private let condition = NSCondition()
    private var submitted: [(request: HTTPRequest, tag: Int)] = []
    private var finished: [Outcome] = []
    private var stopping = false
    private var thread: JoinableThread?
    // The I/O thread's own.
    private var running: [UnsafeMutableRawPointer: (tag: Int, transfer: Transfer)] = [:]
    private var idle: [Transfer] = []

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    init(settings: HTTPSettings) {
        _ = TransferLoop.globalInit
        self.settings = settings
        multi = curl_multi_init()!
    }

    func start() {
        thread = JoinableThread(name: "sluice-http") { [self] in run() }
    }

    /// Queues `request` and wakes the I/O thread.
    func submit(_ request: HTTPRequest, tag: Int) {
        condition.lock()
        submitted.append((request, tag))
        // Under the lock: `stop` cannot have let the thread free the handle.
        curl_multi_wakeup(multi)
        condition.unlock()
    }

    /// The outcomes that arrived, after waiting up to `timeout` for one.
    func takeFinished(waitingUpTo timeout: Duration) -> [Outcome] {
        condition.lock()
        defer { condition.unlock() }
        if finished.isEmpty, timeout > .zero {
            let deadline = Date(timeIntervalSinceNow: Double(timeout.wholeMilliseconds) / 1000)
            while finished.isEmpty, condition.wait(until: deadline) {}
        }
        let done = finished
        finished.removeAll(keepingCapacity: true)
        return done
    }

    /// Ends the I/O thread and waits until it has released libcurl and
    /// exited (libcurl's OpenSSL frees the thread's state as it exits).
    func stop() {
        condition.lock()
        stopping = true
        curl_multi_wakeup(multi)
        condition.unlock()
        thread?.join()
    }

    private func run() {
        while let new = nextSubmissions() {
            for (request, tag) in new {
                let transfer = idle.popLast() ?? Transfer()
                transfer.prepare(request, settings: settings)
                running[transfer.easy] = (tag, transfer)
                curl_multi_add_handle(multi, transfer.easy)
            }
            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            deliver(collect())
            // Returns when a socket is ready, a timer of libcurl's is due, or `submit`/`stop` wakes it.
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
        for (easy, _) in running { curl_multi_remove_handle(multi, easy) }
        running.removeAll()
        idle.removeAll()
        curl_multi_cleanup(multi)
    }

    /// The requests submitted since the last call, or nil once stopping.
    private func nextSubmissions() -> [(request: HTTPRequest, tag: Int)]? {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return nil }
        let new = submitted
        submitted.removeAll(keepingCapacity: true)
        return new
    }

    private func deliver(_ done: [Outcome]) {
        guard !done.isEmpty else { return }
        condition.lock()
        finished += done
        condition.broadcast()
        condition.unlock()
    }

    private func collect() -> [Outcome] {
        var done: [Outcome] = []
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let (tag, transfer) = running.removeValue(forKey: easy) else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            done.append((tag, transfer.finish(code)))
            idle.append(transfer)
        }
        return done
    }
}
