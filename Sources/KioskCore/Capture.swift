/// Why a frame could not be had. The case decides between a quiet retry and a loud error.
public enum CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The device does not exist or went away (unplugged: ENODEV, ENOENT, ENXIO).
    case noDevice(String)
    /// No frame within the timeout: a stalled camera.
    case timeout
    /// The camera cannot give what was asked (format, size).
    case unsupported(String)
    /// Any other system call failure.
    case system(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .noDevice(let path): return "no camera at \(path)"
        case .timeout: return "no frame from the camera in time"
        case .unsupported(let what): return "camera cannot \(what)"
        case .system(let operation, let code): return "\(operation) failed: errno \(code)"
        }
    }
}

/// A source of 8-bit grey frames: a V4L2 camera, or a folder of images in dry-run mode.
public protocol FrameSource: AnyObject {
    /// A human name for logs and status lines ("/dev/gate-camera").
    var name: String { get }
    func open() throws(CaptureError)
    /// Waits up to `timeout` for the freshest frame and lends its pixels to `body`. The buffer is
    /// valid only during the call.
    func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, _ width: Int, _ height: Int) -> T) throws(CaptureError) -> T
    /// Releases the device; safe on a half-open source. Configuration is kept for the next open.
    func close()
}

/// Reads QR payloads from a frame.
public protocol QRDecoder: AnyObject {
    func decode(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> [[UInt8]]
}
