import CTicketDrawing

#if canImport(Glibc)
import Glibc
#endif

/// A PDF document being drawn: pages of one size, text through Pango, filled rectangles. Not
/// shared between threads; `finish()` ends it and gives its bytes.
final class PDFCanvas {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    enum Alignment {
        case left, center, right

        var code: Int32 {
            switch self {
            case .left: return Int32(GH_ALIGN_LEFT)
            case .center: return Int32(GH_ALIGN_CENTER)
            case .right: return Int32(GH_ALIGN_RIGHT)
            }
        }
    }

    let width: Double
    let height: Double
    private var pdf: OpaquePointer?

    init(width: Double, height: Double, title: String) throws {
        self.width = width
        self.height = height
        guard let pdf = gh_pdf_create(width, height, Self.printable(title)) else {
            throw Failure(description: "cairo could not start a PDF document")
        }
        self.pdf = pdf
    }

    deinit {
        // A document abandoned part-way (an error while drawing) is still freed.
        if let pdf {
            var bytes: UnsafeMutablePointer<UInt8>?
            var count = 0
            var error: UnsafePointer<CChar>?
            if gh_pdf_finish(pdf, &bytes, &count, &error) == 0 { free(bytes) }
        }
    }

    struct Drawn {
        var height: Double
        /// Whether the text was longer than its lines and ends in an ellipsis.
        var cut: Bool
    }

    /// Draws `text` in a column from `x` to `x + width`, top at `y`, on at most `lines` lines (cut
    /// with an ellipsis).
    @discardableResult
    func text(_ text: String, font: String, x: Double, y: Double, width: Double, alignment: Alignment = .left, lines: Int = 1) -> Drawn {
        var shown = Self.printable(text)
        var cut: Int32 = 0
        let height = shown.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) {
                gh_pdf_text(pdf, $0.baseAddress, $0.count, font, x, y, width, alignment.code, Int32(lines), &cut)
            }
        }
        return Drawn(height: height, cut: cut != 0)
    }

    /// Fills the rectangles (x, y, width, height) as one shape: where two touch, no seam shows.
    func fill(_ rectangles: [(x: Double, y: Double, width: Double, height: Double)], level: Double = 0) {
        let flat = rectangles.flatMap { [$0.x, $0.y, $0.width, $0.height] }
        flat.withUnsafeBufferPointer { gh_pdf_fill_rectangles(pdf, $0.baseAddress, rectangles.count, level) }
    }

    func nextPage() { gh_pdf_next_page(pdf) }

    func finish() throws -> [UInt8] {
        guard let pdf else { throw Failure(description: "the PDF document was already finished") }
        self.pdf = nil
        var bytes: UnsafeMutablePointer<UInt8>?
        var count = 0
        var error: UnsafePointer<CChar>?
        guard gh_pdf_finish(pdf, &bytes, &count, &error) == 0, let bytes else {
            throw Failure(description: "cairo could not write the PDF: \(error.map { String(cString: $0) } ?? "unknown error")")
        }
        defer { free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: count))
    }

    /// Text as it may be drawn: control characters (a line break in a name, a NUL) become spaces,
    /// and a very long text is cut before Pango lays it out, which costs time for every character.
    static func printable(_ text: String, limit: Int = 2_000) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(limit) {
            scalars.append(scalar.properties.generalCategory == .control ? " " : scalar)
        }
        return String(scalars)
    }
}
