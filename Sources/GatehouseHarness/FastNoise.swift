/// xorshift64*: fast, reproducible noise for synthetic frames, in the tests and the kiosk bench
/// (the system generator makes a system call per number, far too slow for a million pixels).
public struct FastNoise: RandomNumberGenerator {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}
