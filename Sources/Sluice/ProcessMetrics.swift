import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension MetricsRegistry {
    /// Registers the process's own series under the names Prometheus'
    /// client libraries give them: resident memory, CPU time, start time.
    func registerProcessMetrics() {
        let started = Date().timeIntervalSince1970
        computed("process_resident_memory_bytes", help: "Resident memory size in bytes.") { Double(ProcessUsage.residentBytes) }
        computed("process_cpu_seconds_total", type: "counter", help: "User and system CPU time spent in seconds.") {
            ProcessUsage.cpuSeconds
        }
        computed("process_start_time_seconds", help: "Start time of the process since the Unix epoch in seconds.") { started }
    }
}

/// What the kernel counts for this process.
enum ProcessUsage {
    /// Resident memory, from `/proc/self/statm` (0 where it cannot be read).
    static var residentBytes: Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    /// User and system CPU time of every thread so far.
    static var cpuSeconds: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.cpuSeconds
    }
}

extension rusage {
    /// The user and system CPU time it counts, in seconds.
    public var cpuSeconds: Double {
        Double(ru_utime.tv_sec + ru_stime.tv_sec) + Double(ru_utime.tv_usec + ru_stime.tv_usec) / 1_000_000
    }
}
