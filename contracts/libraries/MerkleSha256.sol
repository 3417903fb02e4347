// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title SHA-256 binary Merkle trees, the same ones the client and the nodes build.
/// @notice Leaves are padded with zero hashes up to the next power of two and every parent
/// is sha256(left || right). The depth of a tree is fixed by its leaf count, which callers
/// always know (from a file's size or its shard count), so leaves and inner nodes cannot
/// be confused.
library MerkleSha256 {
    /// @notice The root over `leaves` (at least one).
    function root(bytes32[] calldata leaves) internal view returns (bytes32 out) {
        uint256 width = leaves.length;
        if (width == 1) return leaves[0];
        // Round up to a power of two; missing leaves are zero.
        uint256 padded = 1;
        while (padded < width) padded <<= 1;
        assembly ("memory-safe") {
            // Scratch space past the free memory pointer, never handed out, so no allocation.
            let buf := mload(0x40)
            calldatacopy(buf, leaves.offset, shl(5, width))
            for { let i := width } lt(i, padded) { i := add(i, 1) } { mstore(add(buf, shl(5, i)), 0) }
            // Each level in place: the parent of pair i (bytes 64i..64i+64) goes to 32i, which
            // only overwrites pairs already hashed; the precompile reads before it writes.
            for { let n := shr(1, padded) } n { n := shr(1, n) } {
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    if iszero(staticcall(gas(), 0x02, add(buf, shl(6, i)), 0x40, add(buf, shl(5, i)), 0x20)) {
                        revert(0, 0)
                    }
                }
            }
            out := mload(buf)
        }
    }

    /// @notice The root implied by `leaf` at position `index` and its sibling path,
    /// listed from the leaf level up.
    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] memory path) internal view returns (bytes32) {
        bytes32 node = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            node = (index & 1 == 0) ? _parent(node, path[i]) : _parent(path[i], node);
            index >>= 1;
        }
        return node;
    }

    /// @dev sha256(left || right) through the precompile at address 2.
    function _parent(bytes32 left, bytes32 right) private view returns (bytes32 out) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, left)
            mstore(add(ptr, 0x20), right)
            if iszero(staticcall(gas(), 0x02, ptr, 0x40, ptr, 0x20)) { revert(0, 0) }
            out := mload(ptr)
        }
    }
}
