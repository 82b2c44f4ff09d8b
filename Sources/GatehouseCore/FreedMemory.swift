#if canImport(Glibc)
import Glibc
#endif

/// Gives the heap's freed pages back to the system. glibc keeps freed memory at its high-water
/// mark: after a burst (thousands of connections drained, a 100,000-ticket snapshot decoded) a
/// process would stay megabytes larger than it needs. Shared by the service and the kiosk.
public enum FreedMemory {
    /// glibc's malloc_trim, looked up at run time: <malloc.h> is not in Swift's Glibc module, and
    /// other C libraries (musl in a static build) do not have it at all.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    public static func returnToSystem() {
        _ = mallocTrim?(0)
    }
}
