// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IFileRegistry} from "../../contracts/interfaces/IFileRegistry.sol";
import {FileRegistry} from "../../contracts/FileRegistry.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {FileId, NodeId} from "../../contracts/Types.sol";
import {TestBase} from "./utils/TestBase.sol";

contract FileRegistryTest is TestBase {
    uint256 private constant MIN_STAKE = 0.01 ether;
    uint64 private constant EXIT_DELAY = 1 days;
    /// Nodes 1 to 24 are active, node 25 is exiting and node 26 has exited.
    uint32 private constant ACTIVE_NODES = 24;
    uint32 private constant EXITING_NODE = 25;
    uint32 private constant EXITED_NODE = 26;

    NodeRegistry private nodeRegistry;
    FileRegistry private fileRegistry;
    address private owner;

    function setUp() public {
        nodeRegistry = new NodeRegistry(MIN_STAKE, EXIT_DELAY);
        fileRegistry = new FileRegistry(nodeRegistry);
        owner = _account("owner", 0);
        for (uint256 i = 0; i < EXITED_NODE; ++i) {
            address operator = _account("operator", i);
            vm.deal(operator, MIN_STAKE);
            vm.prank(operator);
            nodeRegistry.register{value: MIN_STAKE}("https://node.example:7001", 1 << 40, 1000);
        }
        vm.prank(_account("operator", EXITED_NODE - 1));
        nodeRegistry.beginExit();
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.prank(_account("operator", EXITED_NODE - 1));
        nodeRegistry.withdrawStake();
        vm.prank(_account("operator", EXITING_NODE - 1));
        nodeRegistry.beginExit();
    }

    // ---------------------------------------------------------------- placement packing

    /// Any valid shape and any placements on active nodes: `getFile` returns exactly the
    /// placements given, `placementOf` agrees shard by shard, and the record keeps the shape.
    /// (k = 24 has no valid shape: m >= 1 makes k + m > 24, see the shape test below.)
    function testFuzz_placementsComeBackExactly(uint8 kSeed, uint8 mSeed, uint256 seed) public {
        (uint8 k, uint8 m) = _shape(kSeed, mSeed);
        IFileRegistry.FileRegistration memory r = _registration(k, m, seed);
        vm.prank(owner);
        fileRegistry.registerFile(r);

        (IFileRegistry.FileRecord memory record, NodeId[] memory placements) = fileRegistry.getFile(r.fileId);
        assertEq(record.owner, owner, "owner");
        assertEq(record.k, k, "k");
        assertEq(record.m, m, "m");
        assertEq(record.size, r.size, "size");
        assertEq(record.segmentSize, r.segmentSize, "segmentSize");
        assertEq(record.wrappedKeyHash, keccak256(r.wrappedKey), "wrappedKeyHash");
        assertEq(placements.length, r.placements.length, "placement count");
        for (uint256 i = 0; i < placements.length; ++i) {
            assertEq(NodeId.unwrap(placements[i]), NodeId.unwrap(r.placements[i]), "getFile placement");
            assertEq(
                NodeId.unwrap(fileRegistry.placementOf(r.fileId, uint8(i))),
                NodeId.unwrap(r.placements[i]),
                "placementOf"
            );
        }
        assertTrue(fileRegistry.exists(r.fileId), "exists");
    }

    /// Reassigning a random shard to a random active node changes that placement only.
    function testFuzz_reassignChangesOnlyThatShard(
        uint8 kSeed,
        uint8 mSeed,
        uint256 seed,
        uint8 indexSeed,
        uint32 toSeed
    ) public {
        (uint8 k, uint8 m) = _shape(kSeed, mSeed);
        IFileRegistry.FileRegistration memory r = _registration(k, m, seed);
        vm.prank(owner);
        fileRegistry.registerFile(r);
        // A neighbour registered after it must not be touched either.
        IFileRegistry.FileRegistration memory other = _registration(k, m, ~seed);
        vm.prank(owner);
        fileRegistry.registerFile(other);

        uint8 index = uint8(_bound(indexSeed, 0, uint256(k) + m - 1));
        NodeId to = NodeId.wrap(uint32(_bound(toSeed, 1, ACTIVE_NODES)));
        vm.prank(owner);
        fileRegistry.reassignShard(r.fileId, index, to);

        (, NodeId[] memory placements) = fileRegistry.getFile(r.fileId);
        for (uint256 i = 0; i < placements.length; ++i) {
            uint32 expected = i == index ? NodeId.unwrap(to) : NodeId.unwrap(r.placements[i]);
            assertEq(NodeId.unwrap(placements[i]), expected, "placement after reassign");
        }
        (, NodeId[] memory untouched) = fileRegistry.getFile(other.fileId);
        for (uint256 i = 0; i < untouched.length; ++i) {
            assertEq(NodeId.unwrap(untouched[i]), NodeId.unwrap(other.placements[i]), "other file");
        }
    }

    // ---------------------------------------------------------------- bad input

    /// Any k and m: out-of-range values revert with the error of the first check that fails,
    /// everything else registers.
    function testFuzz_shapeIsChecked(uint8 k, uint8 m, uint256 seed) public {
        IFileRegistry.FileRegistration memory r = _registration(k, m, seed);
        uint256 shards = uint256(k) + m;
        bytes memory expected;
        if (k == 0 || k > 24) {
            expected = abi.encodeWithSelector(IFileRegistry.FileRegistry_InvalidK.selector, k, 24);
        } else if (m == 0 || m > 6) {
            expected = abi.encodeWithSelector(IFileRegistry.FileRegistry_InvalidM.selector, m, 6);
        } else if (shards > 24) {
            expected = abi.encodeWithSelector(IFileRegistry.FileRegistry_TooManyShards.selector, shards, 24);
        }
        if (expected.length != 0) vm.expectRevert(expected);
        vm.prank(owner);
        fileRegistry.registerFile(r);
        assertTrue(fileRegistry.exists(r.fileId) == (expected.length == 0), "registered exactly when valid");
    }

    /// Any placement or root count other than k + m reverts with the matching error.
    function testFuzz_countsMustMatchTheShape(uint8 placementCount, uint8 rootCount, uint256 seed) public {
        IFileRegistry.FileRegistration memory r = _registration(4, 2, seed);
        placementCount = uint8(_bound(placementCount, 0, 30));
        rootCount = uint8(_bound(rootCount, 0, 30));
        r.placements = _placements(placementCount, seed);
        r.shardRoots = _roots(rootCount, seed);
        if (placementCount != 6) {
            vm.expectRevert(
                abi.encodeWithSelector(IFileRegistry.FileRegistry_PlacementCountMismatch.selector, placementCount, 6)
            );
        } else if (rootCount != 6) {
            vm.expectRevert(
                abi.encodeWithSelector(IFileRegistry.FileRegistry_ShardRootCountMismatch.selector, rootCount, 6)
            );
        }
        vm.prank(owner);
        fileRegistry.registerFile(r);
    }

    /// One placement anywhere on an unknown, exiting or exited node makes the registration
    /// revert, naming that node.
    function testFuzz_placementOnAnInactiveNodeReverts(uint256 seed, uint8 badIndexSeed, uint32 badSeed)
        public
    {
        IFileRegistry.FileRegistration memory r = _registration(18, 6, seed);
        uint256 badIndex = _bound(badIndexSeed, 0, 23);
        uint32 bad = badSeed % 3 == 0 ? EXITING_NODE : badSeed % 3 == 1 ? EXITED_NODE : _unknownNode(badSeed);
        r.placements[badIndex] = NodeId.wrap(bad);
        bytes4 selector = bad == EXITING_NODE || bad == EXITED_NODE
            ? IFileRegistry.FileRegistry_NodeNotActive.selector
            : IFileRegistry.FileRegistry_UnknownNode.selector;
        vm.expectRevert(abi.encodeWithSelector(selector, bad));
        vm.prank(owner);
        fileRegistry.registerFile(r);
    }

    /// Only the owner may reassign, rekey or delete; anyone else gets its own address back.
    function testFuzz_onlyTheOwnerChangesAFile(uint256 strangerSeed, uint256 seed) public {
        address stranger = _account("stranger", strangerSeed);
        IFileRegistry.FileRegistration memory r = _registration(4, 2, seed);
        vm.prank(owner);
        fileRegistry.registerFile(r);
        bytes memory notOwner = abi.encodeWithSelector(IFileRegistry.FileRegistry_NotOwner.selector, r.fileId, stranger);

        vm.expectRevert(notOwner);
        vm.prank(stranger);
        fileRegistry.reassignShard(r.fileId, 0, NodeId.wrap(1));
        vm.expectRevert(notOwner);
        vm.prank(stranger);
        fileRegistry.rekey(r.fileId, hex"01");
        vm.expectRevert(notOwner);
        vm.prank(stranger);
        fileRegistry.deleteFile(r.fileId);
        assertTrue(fileRegistry.exists(r.fileId), "still there");
    }

    /// A deleted id stays taken and every read or change of it reverts as unknown.
    function testFuzz_deletedIdsAreNeverReused(uint256 seed) public {
        IFileRegistry.FileRegistration memory r = _registration(18, 6, seed);
        vm.startPrank(owner);
        fileRegistry.registerFile(r);
        fileRegistry.deleteFile(r.fileId);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.FileRegistry_FileExists.selector, r.fileId));
        fileRegistry.registerFile(_registration(4, 2, seed));
        bytes memory unknown = abi.encodeWithSelector(IFileRegistry.FileRegistry_UnknownFile.selector, r.fileId);
        vm.expectRevert(unknown);
        fileRegistry.getFile(r.fileId);
        vm.expectRevert(unknown);
        fileRegistry.placementOf(r.fileId, 0);
        vm.expectRevert(unknown);
        fileRegistry.reassignShard(r.fileId, 0, NodeId.wrap(1));
        vm.expectRevert(unknown);
        fileRegistry.rekey(r.fileId, hex"01");
        vm.expectRevert(unknown);
        fileRegistry.deleteFile(r.fileId);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- helpers

    /// @dev k in 1..23 and m in 1..min(6, 24 - k): every valid shape.
    function _shape(uint8 kSeed, uint8 mSeed) private pure returns (uint8 k, uint8 m) {
        k = uint8(_bound(kSeed, 1, 23));
        uint256 maxM = 24 - uint256(k) < 6 ? 24 - uint256(k) : 6;
        m = uint8(_bound(mSeed, 1, maxM));
    }

    /// @dev A registration of shape (k, m) whose id, roots, placements and key come from
    /// `seed`; placements are drawn from the active nodes, repeats allowed.
    function _registration(uint8 k, uint8 m, uint256 seed)
        private
        view
        returns (IFileRegistry.FileRegistration memory r)
    {
        uint256 shards = uint256(k) + m;
        // Bound to its registrant: the owner's address, then 12 bytes drawn from the seed.
        r.fileId = FileId.wrap(bytes32(bytes20(owner)) | (keccak256(abi.encode("file", seed)) >> 160));
        r.size = uint48(_draw(seed, 1));
        r.segmentSize = uint32(_bound(_draw(seed, 2), 1, 64 * 1024 * 1024));
        r.k = k;
        r.m = m;
        r.shardRoots = _roots(shards, seed);
        r.placements = _placements(shards, seed);
        r.wrappedKey = abi.encodePacked(keccak256(abi.encode("key", seed)), bytes1(0x04));
    }

    function _roots(uint256 count, uint256 seed) private pure returns (bytes32[] memory roots) {
        roots = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            roots[i] = bytes32(_draw(seed, 1000 + i));
        }
    }

    function _placements(uint256 count, uint256 seed) private pure returns (NodeId[] memory placements) {
        placements = new NodeId[](count);
        for (uint256 i = 0; i < count; ++i) {
            placements[i] = NodeId.wrap(uint32(1 + _draw(seed, 2000 + i) % ACTIVE_NODES));
        }
    }

    /// @dev An id no node has: 0 or anything past the last registered node.
    function _unknownNode(uint32 seed) private pure returns (uint32) {
        return seed % 5 == 0 ? 0 : uint32(_bound(seed, EXITED_NODE + 1, type(uint32).max));
    }
}
