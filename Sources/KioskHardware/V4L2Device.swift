import CV4L2

#if canImport(Glibc)
import Glibc
#endif

/// The system calls the capture code makes, and nothing more: the seam between our V4L2 logic
/// and the kernel. The real one forwards to libv4l2; tests use a fake that follows the kernel's
/// rules (buffer queue order, EAGAIN, ENODEV after unplug, EINVAL for formats it lacks).
/// Each call returns what the C call returns and leaves the reason in `errno`.
public protocol V4L2Device: AnyObject {
    func open(_ path: String, flags: Int32) -> Int32
    func close(_ fd: Int32) -> Int32
    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32
    /// Returns nil on failure (MAP_FAILED).
    func mmap(length: Int, fd: Int32, offset: Int64) -> UnsafeMutableRawPointer?
    func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Int32
    /// Waits for a frame: > 0 ready, 0 timed out, -1 error. `revents` gets the poll flags.
    func poll(_ fd: Int32, timeoutMilliseconds: Int32, revents: inout Int16) -> Int32
}

/// The real device, through libv4l2 (which converts MJPEG/YUYV cameras to grey for us).
public final class LibV4L2Device: V4L2Device {
    public init() {}
    public func open(_ path: String, flags: Int32) -> Int32 { gh_v4l2_open(path, flags) }
    public func close(_ fd: Int32) -> Int32 { gh_v4l2_close(fd) }
    public func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 { gh_v4l2_ioctl(fd, request, argument) }
    public func mmap(length: Int, fd: Int32, offset: Int64) -> UnsafeMutableRawPointer? {
        let address = gh_v4l2_mmap(length, fd, offset)
        return address == gh_map_failed() ? nil : address
    }
    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Int32 { gh_v4l2_munmap(address, length) }
    public func poll(_ fd: Int32, timeoutMilliseconds: Int32, revents: inout Int16) -> Int32 {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let result = Glibc.poll(&descriptor, 1, timeoutMilliseconds)
        revents = descriptor.revents
        return result
    }
}

/// The request numbers, re-exported from the C shim (Swift cannot import the macros).
public enum V4L2Request {
    public static let queryCapability = UInt(GH_VIDIOC_QUERYCAP)
    public static let setFormat = UInt(GH_VIDIOC_S_FMT)
    public static let setParameters = UInt(GH_VIDIOC_S_PARM)
    public static let requestBuffers = UInt(GH_VIDIOC_REQBUFS)
    public static let queryBuffer = UInt(GH_VIDIOC_QUERYBUF)
    public static let queueBuffer = UInt(GH_VIDIOC_QBUF)
    public static let dequeueBuffer = UInt(GH_VIDIOC_DQBUF)
    public static let streamOn = UInt(GH_VIDIOC_STREAMON)
    public static let streamOff = UInt(GH_VIDIOC_STREAMOFF)
    public static let greyFourCC = GH_V4L2_PIX_FMT_GREY
}
