import Foundation
import Synchronization

/// An OS thread whose end can be waited for, past its last line of Swift.
///
/// OpenSSL (in libcurl and in librdkafka) keeps per-thread state that a
/// thread-exit destructor frees after the thread's body has returned, and
/// frees its global state when the process exits. A thread that only says
/// "done" (a flag, a `DispatchGroup`) can still be running that destructor
/// when `main` returns, and the two race (a SIGSEGV in libcrypto at exit).
/// ``join()`` returns only once the thread, destructors included, is gone.
package final class JoinableThread: Sendable {
    /// The thread, until it is joined.
    private let handle: Mutex<pthread_t?>

    /// Starts `body` on a new thread named `name`.
    package init(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            Thread.current.name = start.name
            start.body()
            return nil
        }, start)
        precondition(created == 0, "pthread_create failed (\(created)): the process is out of threads or memory")
        handle = Mutex(thread)
    }

    /// Waits until the thread has ended; at once if it was joined before.
    /// Never call it from the thread itself.
    package func join() {
        // Joining under the lock makes a concurrent second caller wait too.
        handle.withLock { thread in
            guard let joined = thread.take() else { return }
            pthread_join(joined, nil)
        }
    }

    /// A thread nobody joined is detached, so that its resources go when it ends.
    deinit {
        if let thread = handle.withLock({ $0.take() }) { pthread_detach(thread) }
    }

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) { (self.name, self.body) = (name, body) }
    }
}
