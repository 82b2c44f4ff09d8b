import CV4L2
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// A V4L2 camera as a `FrameSource`: 8-bit grey frames by mmap streaming.
///
/// Configuration (path, size, rate) and runtime state (fd, buffers) are kept apart: `close()`
/// resets only the runtime state, so a reopen after an unplug asks for the same frames.
public final class V4L2Capture: FrameSource {
    public struct Settings: Sendable, Equatable {
        public var path: String
        public var width: Int
        public var height: Int
        public var frameRate: Int
        public var bufferCount: Int

        public init(path: String, width: Int, height: Int, frameRate: Int, bufferCount: Int = 4) {
            self.path = path
            self.width = width
            self.height = height
            self.frameRate = frameRate
            self.bufferCount = bufferCount
        }
    }

    private struct MappedBuffer {
        var address: UnsafeMutableRawPointer
        var length: Int
    }

    public let settings: Settings
    private let device: any V4L2Device

    // Runtime state, reset by close().
    private var fd: Int32 = -1
    private var buffers: [MappedBuffer] = []
    private var streaming = false
    /// The format the driver actually gave (it may round the size).
    public private(set) var width = 0
    public private(set) var height = 0
    private var bytesPerLine = 0
    /// Rows copied together when the driver pads lines (zbar wants them packed).
    private var packed: [UInt8] = []

    public init(settings: Settings, device: any V4L2Device = LibV4L2Device()) {
        self.settings = settings
        self.device = device
    }

    deinit { close() }

    public var name: String { settings.path }
    public var isOpen: Bool { fd >= 0 }
    public var mappedBufferCount: Int { buffers.count }

    // MARK: Open: a linear checklist with one cleanup path.

    public func open() throws(CaptureError) {
        close()
        do throws(CaptureError) {
            try openDevice()
            try checkCapabilities()
            try setGreyFormat()
            setFrameRate()
            try mapBuffers()
            try startStreaming()
        } catch {
            close()
            throw error
        }
    }

    private func openDevice() throws(CaptureError) {
        let descriptor = device.open(settings.path, flags: O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENODEV, ENXIO: throw .noDevice(settings.path)
            default: throw .system(operation: "open \(settings.path)", errno: code)
            }
        }
        fd = descriptor
    }

    private func checkCapabilities() throws(CaptureError) {
        var capability = v4l2_capability()
        try control(V4L2Request.queryCapability, &capability, "VIDIOC_QUERYCAP")
        let caps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else { throw .unsupported("capture video (not a capture device)") }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else { throw .unsupported("stream (no mmap streaming)") }
    }

    private func setGreyFormat() throws(CaptureError) {
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(settings.width)
        format.fmt.pix.height = UInt32(settings.height)
        format.fmt.pix.pixelformat = V4L2Request.greyFourCC
        format.fmt.pix.field = V4L2_FIELD_ANY.rawValue
        do throws(CaptureError) {
            try control(V4L2Request.setFormat, &format, "VIDIOC_S_FMT")
        } catch .system(_, EINVAL) {
            throw .unsupported("deliver 8-bit grey at \(settings.width)×\(settings.height)")
        }
        guard format.fmt.pix.pixelformat == V4L2Request.greyFourCC else {
            throw .unsupported("deliver 8-bit grey (offers another format)")
        }
        width = Int(format.fmt.pix.width)
        height = Int(format.fmt.pix.height)
        bytesPerLine = max(width, Int(format.fmt.pix.bytesperline))
        guard width > 0, height > 0 else { throw .unsupported("report a frame size") }
    }

    /// Best effort: some drivers have no frame-rate control; the camera then runs at its own.
    private func setFrameRate() {
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(settings.frameRate))
        _ = try? control(V4L2Request.setParameters, &parameters, "VIDIOC_S_PARM")
    }

    private func mapBuffers() throws(CaptureError) {
        var request = v4l2_requestbuffers()
        request.count = UInt32(settings.bufferCount)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try control(V4L2Request.requestBuffers, &request, "VIDIOC_REQBUFS")
        guard request.count >= 2 else { throw .unsupported("give at least two capture buffers") }
        for index in 0..<request.count {
            var buffer = v4l2_buffer()
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            buffer.index = index
            try control(V4L2Request.queryBuffer, &buffer, "VIDIOC_QUERYBUF")
            guard let address = device.mmap(length: Int(buffer.length), fd: fd, offset: Int64(buffer.m.offset)) else {
                throw .system(operation: "mmap buffer \(index)", errno: errno)
            }
            buffers.append(MappedBuffer(address: address, length: Int(buffer.length)))
        }
        for index in buffers.indices { try queue(index) }
    }

    private func startStreaming() throws(CaptureError) {
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try control(V4L2Request.streamOn, &type, "VIDIOC_STREAMON")
        streaming = true
    }

    // MARK: Frames

    public func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, Int, Int) -> T) throws(CaptureError) -> T {
        guard fd >= 0, streaming else { throw .noDevice(settings.path) }
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timeout }
            var revents: Int16 = 0
            let ready = device.poll(
                fd,
                timeoutMilliseconds: Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)),
                revents: &revents
            )
            if ready < 0 {
                if errno == EINTR { continue }
                throw Self.mapped(errno, "poll", path: settings.path)
            }
            if ready == 0 { throw .timeout }
            if revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && revents & Int16(POLLIN) == 0 {
                // The kernel reports an unplugged camera as an error condition on the fd.
                throw .noDevice(settings.path)
            }
            // Drain every ready buffer and keep the newest: the code in front of the camera
            // must be judged on the freshest frame, not on one from a second ago.
            guard let newest = try dequeueNewest() else { continue }
            defer { try? queue(newest.index) }
            let buffer = buffers[newest.index]
            let pixels = buffer.address.assumingMemoryBound(to: UInt8.self)
            if bytesPerLine == width {
                guard newest.bytesUsed >= width * height else { continue }
                return body(UnsafePointer(pixels), width, height)
            }
            guard newest.bytesUsed >= bytesPerLine * (height - 1) + width else { continue }
            if packed.count != width * height { packed = [UInt8](repeating: 0, count: width * height) }
            packed.withUnsafeMutableBufferPointer { out in
                for row in 0..<height { (out.baseAddress! + row * width).update(from: pixels + row * bytesPerLine, count: width) }
            }
            return packed.withUnsafeBufferPointer { body($0.baseAddress!, width, height) }
        }
    }

    /// Dequeues every filled buffer; re-queues all but the newest. After the first, it asks poll
    /// before each DQBUF instead of dequeuing until EAGAIN: libv4l2, when it converts the
    /// camera's format, prints "error dequeuing buf" to stderr for every EAGAIN — a journal line
    /// per frame, which rotated a gate's journal within minutes.
    private func dequeueNewest() throws(CaptureError) -> (index: Int, bytesUsed: Int)? {
        var newest: (index: Int, bytesUsed: Int)?
        while true {
            if newest != nil && !anotherFrameReady() { return newest }
            var buffer = v4l2_buffer()
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            if device.ioctl(fd, V4L2Request.dequeueBuffer, &buffer) < 0 {
                let code = errno
                if code == EAGAIN { return newest }
                if code == EINTR { continue }
                if let newest { try? queue(newest.index) }
                throw Self.mapped(code, "VIDIOC_DQBUF", path: settings.path)
            }
            if let older = newest { try queue(older.index) }
            guard Int(buffer.index) < buffers.count else { throw .system(operation: "VIDIOC_DQBUF returned buffer \(buffer.index)", errno: EINVAL) }
            newest = (Int(buffer.index), Int(buffer.bytesused))
        }
    }

    /// Whether a filled buffer waits now (poll without waiting); an error is left to the next
    /// frame's poll, which reports an unplugged camera.
    private func anotherFrameReady() -> Bool {
        var revents: Int16 = 0
        return device.poll(fd, timeoutMilliseconds: 0, revents: &revents) > 0 && revents & Int16(POLLIN) != 0
    }

    private func queue(_ index: Int) throws(CaptureError) {
        var buffer = v4l2_buffer()
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        buffer.index = UInt32(index)
        try control(V4L2Request.queueBuffer, &buffer, "VIDIOC_QBUF")
    }

    // MARK: Close: safe on a half-open device.

    public func close() {
        if fd >= 0 && streaming {
            var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = device.ioctl(fd, V4L2Request.streamOff, &type)
        }
        streaming = false
        for buffer in buffers { _ = device.munmap(buffer.address, length: buffer.length) }
        if fd >= 0 && !buffers.isEmpty {
            var request = v4l2_requestbuffers()
            request.count = 0
            request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            request.memory = V4L2_MEMORY_MMAP.rawValue
            _ = device.ioctl(fd, V4L2Request.requestBuffers, &request)
        }
        buffers.removeAll()
        if fd >= 0 { _ = device.close(fd) }
        fd = -1
    }

    // MARK: ioctl with EINTR retry and typed errors, in one place.

    private func control<Argument>(_ request: UInt, _ argument: inout Argument, _ operation: String) throws(CaptureError) {
        while true {
            let result = withUnsafeMutablePointer(to: &argument) { device.ioctl(fd, request, UnsafeMutableRawPointer($0)) }
            if result >= 0 { return }
            let code = errno
            if code == EINTR { continue }
            throw Self.mapped(code, operation, path: settings.path)
        }
    }

    static func mapped(_ code: Int32, _ operation: String, path: String) -> CaptureError {
        switch code {
        case ENODEV, ENXIO, ENOENT: return .noDevice(path)
        default: return .system(operation: operation, errno: code)
        }
    }
}
