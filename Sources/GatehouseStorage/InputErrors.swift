import Foundation

/// Input that breaks the contract: becomes HTTP 400, or a CLI error naming the argument.
public struct InvalidInputError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Something named in the request does not exist: HTTP 404.
public struct NotFoundError: Error, Equatable, CustomStringConvertible {
    public let what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "no \(what)" }
}
