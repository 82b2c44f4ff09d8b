import Foundation

/// The real QR photos in `../shared/corpus/` with their ground truth.
public struct CorpusImage: Sendable {
    public var set: String
    public var path: String
    /// Every code's text in the photo.
    public var codes: [String]
}

public enum Corpus {
    /// `$GATEHOUSE_CORPUS`, else `shared/corpus` beside the repository (where CI puts it).
    public static var directory: String? {
        if let path = ProcessInfo.processInfo.environment["GATEHOUSE_CORPUS"] { return path }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("shared/corpus").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static var isAvailable: Bool { directory != nil }

    /// Trailing CR/LF are not part of a code's meaning in the ground truth files.
    public static func normalized(_ text: String) -> String {
        var text = Substring(text)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        return String(text)
    }

    public static func images() throws -> [CorpusImage] {
        guard let directory else { return [] }
        var images: [CorpusImage] = []
        for set in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let folder = directory + "/" + set
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where file.hasSuffix(".pgm") {
                let base = folder + "/" + String(file.dropLast(4))
                if let data = FileManager.default.contents(atPath: base + ".json") {
                    let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
                    images.append(CorpusImage(set: set, path: folder + "/" + file, codes: (json["codes"] as! [String]).map(normalized)))
                } else if let data = FileManager.default.contents(atPath: base + ".txt") {
                    images.append(CorpusImage(set: set, path: folder + "/" + file, codes: [normalized(String(decoding: data, as: UTF8.self))]))
                }
            }
        }
        return images
    }
}
