// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MerkleSha256} from "../../contracts/libraries/MerkleSha256.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev Calls the library the way the registry does, from calldata.
contract MerkleSha256Harness {
    function root(bytes32[] calldata leaves) external view returns (bytes32) {
        return MerkleSha256.root(leaves);
    }

    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] calldata path) external view returns (bytes32) {
        return MerkleSha256.rootFromPath(leaf, index, path);
    }
}

contract MerkleSha256Test is TestBase {
    MerkleSha256Harness private harness;

    function setUp() public {
        harness = new MerkleSha256Harness();
    }

    function test_aSingleLeafIsItsOwnRoot() public view {
        bytes32[] memory leaves = new bytes32[](1);
        leaves[0] = keccak256("leaf");
        assertEq(harness.root(leaves), leaves[0], "single leaf");
    }

    function test_aParentIsTheSha256OfBothChildren() public view {
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = keccak256("left");
        leaves[1] = keccak256("right");
        assertEq(harness.root(leaves), sha256(abi.encodePacked(leaves[0], leaves[1])), "two leaves");
    }

    function test_missingLeavesAreZeroHashes() public view {
        bytes32[] memory leaves = new bytes32[](3);
        leaves[0] = keccak256("a");
        leaves[1] = keccak256("b");
        leaves[2] = keccak256("c");
        bytes32 expected = sha256(
            abi.encodePacked(
                sha256(abi.encodePacked(leaves[0], leaves[1])), sha256(abi.encodePacked(leaves[2], bytes32(0)))
            )
        );
        assertEq(harness.root(leaves), expected, "three leaves padded to four");
    }

    /// Any number of leaves up to 64: the root equals a straightforward reference, and every
    /// leaf's sibling path leads back to it through `rootFromPath`.
    function testFuzz_rootMatchesTheReferenceAndEveryPath(uint8 widthSeed, uint256 seed) public view {
        uint256 width = _bound(widthSeed, 1, 64);
        bytes32[] memory leaves = new bytes32[](width);
        for (uint256 i = 0; i < width; ++i) {
            leaves[i] = bytes32(_draw(seed, i));
        }
        bytes32 root = harness.root(leaves);
        assertEq(root, _referenceRoot(leaves), "root");
        uint256 index = _draw(seed, 999) % width;
        assertEq(harness.rootFromPath(leaves[index], index, _path(leaves, index)), root, "path");
    }

    /// @dev Level by level in fresh arrays, as the client does it.
    function _referenceRoot(bytes32[] memory leaves) private pure returns (bytes32) {
        bytes32[] memory level = _padded(leaves);
        while (level.length > 1) {
            bytes32[] memory up = new bytes32[](level.length / 2);
            for (uint256 i = 0; i < up.length; ++i) {
                up[i] = sha256(abi.encodePacked(level[2 * i], level[2 * i + 1]));
            }
            level = up;
        }
        return level[0];
    }

    /// @dev The siblings of leaf `index`, from the leaf level up.
    function _path(bytes32[] memory leaves, uint256 index) private pure returns (bytes32[] memory path) {
        bytes32[] memory level = _padded(leaves);
        uint256 depth;
        for (uint256 w = level.length; w > 1; w >>= 1) ++depth;
        path = new bytes32[](depth);
        for (uint256 d = 0; d < depth; ++d) {
            path[d] = level[index ^ 1];
            bytes32[] memory up = new bytes32[](level.length / 2);
            for (uint256 i = 0; i < up.length; ++i) {
                up[i] = sha256(abi.encodePacked(level[2 * i], level[2 * i + 1]));
            }
            level = up;
            index >>= 1;
        }
    }

    function _padded(bytes32[] memory leaves) private pure returns (bytes32[] memory level) {
        uint256 width = 1;
        while (width < leaves.length) width <<= 1;
        level = new bytes32[](width);
        for (uint256 i = 0; i < leaves.length; ++i) {
            level[i] = leaves[i];
        }
    }
}
