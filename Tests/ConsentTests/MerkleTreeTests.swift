import Consent
import PassbyTestSupport
import Testing

@Suite("RFC 9162 Merkle trees", .timeLimit(.minutes(5)))
struct MerkleTreeTests {
    static func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { UInt8(text.dropFirst($0).prefix(2), radix: 16)! }
    }

    /// The Certificate Transparency test vectors (also those of RFC 6962's reference code).
    static let entries = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ].map(hex)

    @Test("roots of every prefix match the test vectors, from the whole tree and from the frontier")
    func roots() {
        let leaves = Self.entries.map(MerkleTree.leafHash)
        var frontier = MerkleFrontier()
        for size in 1...8 {
            frontier.append(leaves[size - 1])
            #expect(MerkleTree.root(leaves.prefix(size)) == Self.roots[size - 1])
            #expect(frontier.root == Self.roots[size - 1])
            #expect(frontier.nodes.count == size.nonzeroBitCount)
        }
        #expect(MerkleTree.root([]) == Self.hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test("every inclusion proof verifies, and fails for another leaf, index or root")
    func inclusion() {
        var generator = SplitMix64(seed: 9162)
        let leaves = (0..<37).map { _ in MerkleTree.leafHash((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        for size in 1...leaves.count {
            let root = MerkleTree.root(leaves.prefix(size))
            for index in 0..<size {
                let proof = MerkleTree.inclusionProof(index: index, leaves: leaves.prefix(size))
                #expect(MerkleTree.verifyInclusion(leaf: leaves[index], index: index, size: size, proof: proof, root: root))
                let stranger = MerkleTree.leafHash(Array("not in the tree".utf8))
                #expect(!MerkleTree.verifyInclusion(leaf: stranger, index: index, size: size, proof: proof, root: root))
                #expect(!MerkleTree.verifyInclusion(leaf: leaves[index], index: index, size: size, proof: proof, root: stranger))
                if size > 1 {
                    #expect(!MerkleTree.verifyInclusion(leaf: leaves[index], index: (index + 1) % size, size: size, proof: proof, root: root))
                }
            }
        }
    }

    @Test("every consistency proof verifies, and fails against a different old tree")
    func consistency() {
        let leaves = (0..<33).map { MerkleTree.leafHash([UInt8($0)]) }
        for newSize in 1...leaves.count {
            let newRoot = MerkleTree.root(leaves.prefix(newSize))
            for oldSize in 1...newSize {
                let oldRoot = MerkleTree.root(leaves.prefix(oldSize))
                let proof = MerkleTree.consistencyProof(oldSize: oldSize, leaves: leaves.prefix(newSize))
                #expect(MerkleTree.verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: proof))
                if oldSize < newSize {
                    let forged = MerkleTree.root(leaves.dropFirst().prefix(oldSize))
                    #expect(!MerkleTree.verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: forged, newRoot: newRoot, proof: proof))
                }
            }
        }
    }
}

@Suite("Proofs from stored nodes", .timeLimit(.minutes(5)))
struct StoredNodeProofTests {
    @Test("proofs built from the sealer's stored nodes equal those built from all leaves")
    func sameProofs() throws {
        let leaves = (0..<45).map { MerkleTree.leafHash([UInt8($0), 7]) }
        var frontier = MerkleFrontier()
        var nodes: [MerkleNodeRef: MerkleTree.Hash] = [:]
        for leaf in leaves {
            for (ref, hash) in frontier.appendReturningNodes(leaf) { nodes[ref] = hash }
        }
        #expect(frontier.root == MerkleTree.root(leaves[...]))
        for size in 1...leaves.count {
            for index in 0..<size {
                let stored = try #require(MerkleTree.resolve(MerkleTree.inclusionProofNodes(index: index, size: size), nodes: nodes))
                #expect(stored == MerkleTree.inclusionProof(index: index, leaves: leaves.prefix(size)))
            }
            for old in 1...size {
                let stored = try #require(MerkleTree.resolve(MerkleTree.consistencyProofNodes(oldSize: old, newSize: size), nodes: nodes))
                #expect(stored == MerkleTree.consistencyProof(oldSize: old, leaves: leaves.prefix(size)))
            }
        }
        #expect(MerkleTree.resolve([[MerkleNodeRef(level: 9, index: 0)]], nodes: nodes) == nil)
    }
}
