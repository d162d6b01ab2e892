import Crypto

/// RFC 9162 (Certificate Transparency 2.0) Merkle trees over the ledger: leaf and node hashes,
/// roots of any prefix, inclusion and consistency proofs, and their verification.
public enum MerkleTree {
    public typealias Hash = [UInt8]

    /// SHA-256(0x00 ‖ entry).
    public static func leafHash(_ entry: [UInt8]) -> Hash {
        Array(SHA256.hash(data: [0x00] + entry))
    }

    /// SHA-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        Array(SHA256.hash(data: [0x01] + left + right))
    }

    /// The largest power of two smaller than `n` (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[0:n]) over leaf hashes; the empty tree's root is SHA-256 of nothing.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return Array(SHA256.hash(data: [UInt8]()))
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            return nodeHash(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
        }
    }

    /// PATH(m, D[0:n]): the inclusion proof of leaf `index`.
    public static func inclusionProof(index: Int, leaves: ArraySlice<Hash>) -> [Hash] {
        guard leaves.count > 1 else { return [] }
        let k = split(leaves.count)
        if index < k {
            return inclusionProof(index: index, leaves: leaves.prefix(k)) + [root(leaves.dropFirst(k))]
        }
        return inclusionProof(index: index - k, leaves: leaves.dropFirst(k)) + [root(leaves.prefix(k))]
    }

    /// PROOF(m, D[0:n]): the consistency proof from the tree of size `oldSize` to the whole.
    public static func consistencyProof(oldSize: Int, leaves: ArraySlice<Hash>) -> [Hash] {
        guard oldSize > 0, oldSize < leaves.count else { return [] }
        return subproof(oldSize, leaves, complete: true)
    }

    static func subproof(_ m: Int, _ leaves: ArraySlice<Hash>, complete: Bool) -> [Hash] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = split(n)
        if m <= k {
            return subproof(m, leaves.prefix(k), complete: complete) + [root(leaves.dropFirst(k))]
        }
        return subproof(m - k, leaves.dropFirst(k), complete: false) + [root(leaves.prefix(k))]
    }

    /// RFC 9162 §2.1.3.2: whether `proof` shows leaf `index` of a tree of `size` under `root`.
    public static func verifyInclusion(leaf: Hash, index: Int, size: Int, proof: [Hash], root: Hash) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index
        var sn = size - 1
        var r = leaf
        for p in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `oldSize` is a prefix of the tree of `newSize`.
    public static func verifyConsistency(oldSize: Int, newSize: Int, oldRoot: Hash, newRoot: Hash, proof: [Hash]) -> Bool {
        guard oldSize > 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }  // a power of two: the old root starts the path
        guard !path.isEmpty else { return false }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}

/// The right edge of a Merkle tree: the roots of its perfect subtrees, largest first. Appending a
/// leaf costs O(log n) and the root is computed from the frontier alone, so a sealer's work grows
/// with the new entries, not with the ledger.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: Int = 0
    /// Subtree roots for the set bits of `size`, from the highest bit down.
    public private(set) var nodes: [MerkleTree.Hash] = []

    public init() {}

    public init(size: Int, nodes: [MerkleTree.Hash]) {
        self.size = size
        self.nodes = nodes
    }

    /// A stored frontier, nil unless it has the shape a tree of `size` leaves has: one 32-byte
    /// node per set bit of `size`. Appending to any other would trap or build a wrong tree.
    public init?(validating size: Int, nodes: [MerkleTree.Hash]) {
        guard size >= 0, nodes.count == size.nonzeroBitCount, nodes.allSatisfy({ $0.count == 32 }) else { return nil }
        self.init(size: size, nodes: nodes)
    }

    public mutating func append(_ leaf: MerkleTree.Hash) {
        var carry = leaf
        var level = 0
        // Merge equal-sized subtrees, as binary addition carries.
        while (size >> level) & 1 == 1 {
            carry = MerkleTree.nodeHash(nodes.removeLast(), carry)
            level += 1
        }
        nodes.append(carry)
        size += 1
    }

    /// MTH of all appended leaves.
    public var root: MerkleTree.Hash {
        guard var result = nodes.last else { return MerkleTree.root([]) }
        for node in nodes.dropLast().reversed() { result = MerkleTree.nodeHash(node, result) }
        return result
    }
}

/// A perfect subtree of the ledger's tree: leaves `[index << level, (index + 1) << level)`.
/// The sealer stores every such node as it forms, so proofs need only O(log² n) of them.
public struct MerkleNodeRef: Hashable, Sendable {
    public var level: Int
    public var index: Int64

    public init(level: Int, index: Int64) {
        self.level = level
        self.index = index
    }
}

extension MerkleTree {
    /// The perfect nodes whose right fold is MTH(D[start:end]); `start` is aligned as in RFC 9162 proofs.
    static func cover(start: Int64, end: Int64) -> [MerkleNodeRef] {
        let count = end - start
        if count & (count - 1) == 0 {
            return [MerkleNodeRef(level: count.trailingZeroBitCount, index: start >> Int64(count.trailingZeroBitCount))]
        }
        let k = Int64(split(Int(count)))
        return [MerkleNodeRef(level: k.trailingZeroBitCount, index: start >> Int64(k.trailingZeroBitCount))] + cover(start: start + k, end: end)
    }

    /// The ranges whose roots make the inclusion proof of leaf `index` in a tree of `size`.
    static func inclusionRanges(index: Int64, start: Int64, end: Int64) -> [(Int64, Int64)] {
        guard end - start > 1 else { return [] }
        let k = Int64(split(Int(end - start)))
        if index < start + k {
            return inclusionRanges(index: index, start: start, end: start + k) + [(start + k, end)]
        }
        return inclusionRanges(index: index, start: start + k, end: end) + [(start, start + k)]
    }

    /// The ranges whose roots make the consistency proof from `oldSize` to the range's end.
    static func consistencyRanges(_ m: Int64, start: Int64, end: Int64, complete: Bool) -> [(Int64, Int64)] {
        let n = end - start
        if m == n { return complete ? [] : [(start, end)] }
        let k = Int64(split(Int(n)))
        if m <= k {
            return consistencyRanges(m, start: start, end: start + k, complete: complete) + [(start + k, end)]
        }
        return consistencyRanges(m - k, start: start + k, end: end, complete: false) + [(start, start + k)]
    }

    /// Proof elements as sets of stored nodes: each element is the right fold of its nodes.
    public static func inclusionProofNodes(index: Int, size: Int) -> [[MerkleNodeRef]] {
        inclusionRanges(index: Int64(index), start: 0, end: Int64(size)).map { cover(start: $0.0, end: $0.1) }
    }

    public static func consistencyProofNodes(oldSize: Int, newSize: Int) -> [[MerkleNodeRef]] {
        guard oldSize > 0, oldSize < newSize else { return [] }
        return consistencyRanges(Int64(oldSize), start: 0, end: Int64(newSize), complete: true).map { cover(start: $0.0, end: $0.1) }
    }

    /// Folds stored nodes into proof hashes.
    public static func resolve(_ elements: [[MerkleNodeRef]], nodes: [MerkleNodeRef: Hash]) -> [Hash]? {
        var proof: [Hash] = []
        for element in elements {
            var hashes: [Hash] = []
            for ref in element {
                guard let hash = nodes[ref] else { return nil }
                hashes.append(hash)
            }
            guard var folded = hashes.popLast() else { return nil }
            while let left = hashes.popLast() { folded = nodeHash(left, folded) }
            proof.append(folded)
        }
        return proof
    }
}

extension MerkleFrontier {
    /// Appends a leaf and returns every perfect node it completes, the leaf itself included.
    public mutating func appendReturningNodes(_ leaf: MerkleTree.Hash) -> [(MerkleNodeRef, MerkleTree.Hash)] {
        let index = Int64(size)
        var made = [(MerkleNodeRef(level: 0, index: index), leaf)]
        var carry = leaf
        var level = 0
        // As `append`, keeping each merged node; each hash is computed once.
        while (size >> level) & 1 == 1 {
            carry = MerkleTree.nodeHash(nodes.removeLast(), carry)
            level += 1
            made.append((MerkleNodeRef(level: level, index: index >> Int64(level)), carry))
        }
        nodes.append(carry)
        size += 1
        return made
    }
}
