import CV4L2
import Foundation
import KioskHardware

#if canImport(Glibc)
import Glibc
#endif

/// A V4L2 capture device that behaves like the kernel at the ioctl layer:
/// - only GREY at a few sizes (other formats: EINVAL; sizes round to the nearest it has),
/// - buffers must be requested before streaming, queued before they can be filled, and a buffer
///   already queued cannot be queued again (EINVAL),
/// - DQBUF on an empty done-queue is EAGAIN (the fd is non-blocking),
/// - after `unplug()` every call fails with ENODEV and poll reports POLLERR; the path is gone
///   (open: ENOENT) until `replug()`,
/// - frames arrive only into queued buffers; with none queued, the frame is dropped.
final class FakeV4L2Device: V4L2Device, @unchecked Sendable {
    struct Buffer {
        var memory: UnsafeMutableRawPointer
        var length: Int
        var queued = false
        var mapped = 0
        var bytesUsed = 0
    }

    let path: String
    var supportsGrey = true
    var sizes: [(Int, Int)] = [(640, 480), (1280, 720)]
    private(set) var present = true
    private(set) var openDescriptors: Set<Int32> = []
    private(set) var buffers: [Buffer] = []
    private(set) var streaming = false
    private var done: [Int] = []
    private var width = 640
    private var height = 480
    private var nextDescriptor: Int32 = 100
    private(set) var droppedFrames = 0
    /// DQBUF calls that found nothing done (each an error line from the real libv4l2).
    private(set) var emptyDequeues = 0
    /// Mappings still held when the device instance went away.
    private(set) var leakedMappings = 0
    /// Called by poll when no frame is done: lets a test feed frames as time passes.
    var onIdlePoll: (() -> Void)?
    let lock = NSRecursiveLock()

    init(path: String = "/dev/fake-camera") { self.path = path }

    deinit { for buffer in buffers { buffer.memory.deallocate() } }

    var mappedCount: Int { lock.withLock { buffers.reduce(0) { $0 + $1.mapped } + leakedMappings } }
    var queuedCount: Int { lock.withLock { buffers.filter(\.queued).count } }
    var frameSize: (Int, Int) { lock.withLock { (width, height) } }

    // MARK: Test controls

    /// A frame arrives: copied into the first queued buffer, or dropped when none is queued.
    func deliver(_ pixels: [UInt8]) {
        lock.withLock {
            guard streaming, present, let index = buffers.indices.first(where: { buffers[$0].queued && !done.contains($0) }) else {
                droppedFrames += 1
                return
            }
            let count = min(pixels.count, buffers[index].length)
            pixels.withUnsafeBytes { buffers[index].memory.copyMemory(from: $0.baseAddress!, byteCount: count) }
            buffers[index].bytesUsed = count
            done.append(index)
        }
    }

    func unplug() { lock.withLock { present = false } }

    func replug() {
        lock.withLock {
            present = true
            // A new device instance: the old fds stay dead and its buffers went with the old one
            // (a buffer still mapped would be a leak of the capture code, kept for the count).
            openDescriptors.removeAll()
            streaming = false
            done.removeAll()
            leakedMappings += buffers.reduce(0) { $0 + $1.mapped }
            for buffer in buffers where buffer.mapped == 0 { buffer.memory.deallocate() }
            buffers.removeAll()
        }
    }

    // MARK: V4L2Device

    func open(_ path: String, flags: Int32) -> Int32 {
        lock.withLock {
            guard path == self.path, present else { return fail(ENOENT) }
            let fd = nextDescriptor
            nextDescriptor += 1
            openDescriptors.insert(fd)
            return fd
        }
    }

    func close(_ fd: Int32) -> Int32 {
        lock.withLock {
            guard openDescriptors.remove(fd) != nil || !present else { return fail(EBADF) }
            if openDescriptors.isEmpty {
                streaming = false
                done.removeAll()
            }
            return 0
        }
    }

    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
        lock.withLock {
            guard present else { return fail(ENODEV) }
            guard openDescriptors.contains(fd) else { return fail(EBADF) }
            switch request {
            case V4L2Request.queryCapability:
                let capability = argument.assumingMemoryBound(to: v4l2_capability.self)
                capability.pointee.capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING) | UInt32(V4L2_CAP_DEVICE_CAPS)
                capability.pointee.device_caps = UInt32(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)
                return 0
            case V4L2Request.setFormat:
                guard !streaming, buffers.isEmpty else { return fail(EBUSY) }
                let format = argument.assumingMemoryBound(to: v4l2_format.self)
                guard format.pointee.type == V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue else { return fail(EINVAL) }
                guard supportsGrey, format.pointee.fmt.pix.pixelformat == V4L2Request.greyFourCC else { return fail(EINVAL) }
                let wanted = (Int(format.pointee.fmt.pix.width), Int(format.pointee.fmt.pix.height))
                let best = sizes.min { abs($0.0 - wanted.0) + abs($0.1 - wanted.1) < abs($1.0 - wanted.0) + abs($1.1 - wanted.1) }!
                (width, height) = best
                format.pointee.fmt.pix.width = UInt32(width)
                format.pointee.fmt.pix.height = UInt32(height)
                format.pointee.fmt.pix.bytesperline = UInt32(width)
                format.pointee.fmt.pix.sizeimage = UInt32(width * height)
                return 0
            case V4L2Request.setParameters:
                return 0
            case V4L2Request.requestBuffers:
                let request = argument.assumingMemoryBound(to: v4l2_requestbuffers.self)
                guard request.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { return fail(EINVAL) }
                guard !streaming else { return fail(EBUSY) }
                if request.pointee.count == 0 {
                    guard buffers.allSatisfy({ $0.mapped == 0 }) else { return fail(EBUSY) }
                    for buffer in buffers { buffer.memory.deallocate() }
                    buffers.removeAll()
                    return 0
                }
                guard buffers.isEmpty else { return fail(EBUSY) }
                let count = min(Int(request.pointee.count), 8)
                buffers = (0..<count).map { _ in
                    let length = width * height
                    return Buffer(memory: UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16), length: length)
                }
                request.pointee.count = UInt32(count)
                return 0
            case V4L2Request.queryBuffer:
                let buffer = argument.assumingMemoryBound(to: v4l2_buffer.self)
                let index = Int(buffer.pointee.index)
                guard buffers.indices.contains(index) else { return fail(EINVAL) }
                buffer.pointee.length = UInt32(buffers[index].length)
                buffer.pointee.m.offset = UInt32(index * 4096)
                return 0
            case V4L2Request.queueBuffer:
                let buffer = argument.assumingMemoryBound(to: v4l2_buffer.self)
                let index = Int(buffer.pointee.index)
                guard buffers.indices.contains(index), !buffers[index].queued else { return fail(EINVAL) }
                buffers[index].queued = true
                return 0
            case V4L2Request.dequeueBuffer:
                guard streaming else { return fail(EINVAL) }
                guard !done.isEmpty else {
                    emptyDequeues += 1
                    return fail(EAGAIN)
                }
                let index = done.removeFirst()
                buffers[index].queued = false
                let buffer = argument.assumingMemoryBound(to: v4l2_buffer.self)
                buffer.pointee.index = UInt32(index)
                buffer.pointee.bytesused = UInt32(buffers[index].bytesUsed)
                return 0
            case V4L2Request.streamOn:
                guard !buffers.isEmpty else { return fail(EINVAL) }
                streaming = true
                return 0
            case V4L2Request.streamOff:
                streaming = false
                done.removeAll()
                for index in buffers.indices { buffers[index].queued = false }
                return 0
            default:
                return fail(ENOTTY)
            }
        }
    }

    func mmap(length: Int, fd: Int32, offset: Int64) -> UnsafeMutableRawPointer? {
        lock.withLock {
            guard present else {
                errno = ENODEV
                return nil
            }
            let index = Int(offset) / 4096
            guard buffers.indices.contains(index), length <= buffers[index].length else {
                errno = EINVAL
                return nil
            }
            buffers[index].mapped += 1
            return buffers[index].memory
        }
    }

    func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Int32 {
        lock.withLock {
            guard let index = buffers.firstIndex(where: { $0.memory == address }), buffers[index].mapped > 0 else { return fail(EINVAL) }
            buffers[index].mapped -= 1
            return 0
        }
    }

    func poll(_ fd: Int32, timeoutMilliseconds: Int32, revents: inout Int16) -> Int32 {
        var ready = lock.withLock { () -> Int32? in
            guard present else {
                revents = Int16(POLLERR)
                return 1
            }
            return done.isEmpty ? nil : 1
        }
        // A zero timeout only looks: nothing arrives during it.
        if ready == nil && timeoutMilliseconds > 0 {
            onIdlePoll?()
            ready = lock.withLock { done.isEmpty ? nil : 1 }
        }
        guard let ready else {
            // Nothing arrived within the timeout (the fake does not wait for real).
            revents = 0
            return 0
        }
        revents = lock.withLock { present ? Int16(POLLIN) : Int16(POLLERR) }
        return ready
    }

    private func fail(_ code: Int32) -> Int32 {
        errno = code
        return -1
    }
}
