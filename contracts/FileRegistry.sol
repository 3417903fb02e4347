// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IFileRegistry} from "./interfaces/IFileRegistry.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {MerkleSha256} from "./libraries/MerkleSha256.sol";
import {FileId, NodeId} from "./Types.sol";

/// @title FileRegistry
/// @notice See {IFileRegistry}. A record is one packed slot plus two hashes; placements
/// are packed eight node ids to a slot, so registering a 6-shard file writes four slots
/// whatever the file's size.
contract FileRegistry is IFileRegistry {
    /// @notice Most data shards per file (the Reed-Solomon coder's limit).
    uint8 public constant MAX_K = 24;
    /// @notice Most parity shards per file (the Reed-Solomon coder's limit).
    uint8 public constant MAX_M = 6;
    /// @notice Most shards per file in all (three placement slots).
    uint256 public constant MAX_SHARDS = 24;
    /// @notice Largest segment, in bytes: clients hold a few segments in memory at once.
    uint32 public constant MAX_SEGMENT_SIZE = 64 * 1024 * 1024;
    /// @notice Longest wrapped key blob, in bytes.
    uint256 public constant MAX_WRAPPED_KEY = 1024;

    uint256 private constant _IDS_PER_SLOT = 8;

    INodeRegistry private immutable _nodeRegistry;

    mapping(FileId fileId => FileRecord) private _files;
    /// @dev Node of shard i at bits [32 * (i % 8), 32 * (i % 8) + 32) of slot i / 8.
    mapping(FileId fileId => mapping(uint256 slot => uint256 ids)) private _placements;

    /// @param nodeRegistry_ The registry whose active nodes may hold shards.
    constructor(INodeRegistry nodeRegistry_) {
        _nodeRegistry = nodeRegistry_;
    }

    modifier onlyOwner(FileId fileId) {
        FileRecord storage file = _files[fileId];
        if (file.k == 0) revert FileRegistry_UnknownFile(fileId);
        if (file.owner != msg.sender) revert FileRegistry_NotOwner(fileId, msg.sender);
        _;
    }

    /// @inheritdoc IFileRegistry
    function registerFile(FileRegistration calldata r) external {
        if (address(bytes20(FileId.unwrap(r.fileId))) != msg.sender) {
            revert FileRegistry_IdNotBoundToCaller(r.fileId, msg.sender);
        }
        if (_files[r.fileId].owner != address(0)) revert FileRegistry_FileExists(r.fileId);
        if (r.k == 0 || r.k > MAX_K) revert FileRegistry_InvalidK(r.k, MAX_K);
        if (r.m == 0 || r.m > MAX_M) revert FileRegistry_InvalidM(r.m, MAX_M);
        uint256 shards = uint256(r.k) + r.m;
        if (shards > MAX_SHARDS) revert FileRegistry_TooManyShards(shards, MAX_SHARDS);
        if (r.segmentSize == 0 || r.segmentSize > MAX_SEGMENT_SIZE) {
            revert FileRegistry_InvalidSegmentSize(r.segmentSize, MAX_SEGMENT_SIZE);
        }
        if (r.placements.length != shards) revert FileRegistry_PlacementCountMismatch(r.placements.length, shards);
        if (r.shardRoots.length != shards) revert FileRegistry_ShardRootCountMismatch(r.shardRoots.length, shards);
        _checkWrappedKey(r.wrappedKey);
        _requireActive(r.placements);

        _files[r.fileId] = FileRecord({
            owner: msg.sender,
            size: r.size,
            segmentSize: r.segmentSize,
            k: r.k,
            m: r.m,
            shardsRoot: MerkleSha256.root(r.shardRoots),
            wrappedKeyHash: keccak256(r.wrappedKey)
        });
        _storePlacements(r.fileId, r.placements);
        emit FileRegistered(
            r.fileId, msg.sender, r.size, r.segmentSize, r.k, r.m, r.shardRoots, r.placements, r.wrappedKey
        );
    }

    /// @inheritdoc IFileRegistry
    function reassignShard(FileId fileId, uint8 shardIndex, NodeId to) external onlyOwner(fileId) {
        FileRecord storage file = _files[fileId];
        uint256 shards = uint256(file.k) + file.m;
        if (shardIndex >= shards) revert FileRegistry_InvalidShardIndex(fileId, shardIndex, shards);
        if (!_nodeRegistry.isActive(to)) _revertInactive(to);

        uint256 slot = shardIndex / _IDS_PER_SLOT;
        uint256 shift = 32 * (shardIndex % _IDS_PER_SLOT);
        uint256 word = _placements[fileId][slot];
        NodeId from = NodeId.wrap(uint32(word >> shift));
        uint256 cleared = word & ~(uint256(type(uint32).max) << shift);
        _placements[fileId][slot] = cleared | (uint256(NodeId.unwrap(to)) << shift);
        emit ShardReassigned(fileId, shardIndex, from, to);
    }

    /// @inheritdoc IFileRegistry
    function rekey(FileId fileId, bytes calldata wrappedKey) external onlyOwner(fileId) {
        _checkWrappedKey(wrappedKey);
        bytes32 wrappedKeyHash = keccak256(wrappedKey);
        _files[fileId].wrappedKeyHash = wrappedKeyHash;
        emit FileRekeyed(fileId, wrappedKeyHash, wrappedKey);
    }

    /// @inheritdoc IFileRegistry
    function deleteFile(FileId fileId) external onlyOwner(fileId) {
        FileRecord storage file = _files[fileId];
        uint256 slots = (uint256(file.k) + file.m + _IDS_PER_SLOT - 1) / _IDS_PER_SLOT;
        for (uint256 i = 0; i < slots; ++i) {
            delete _placements[fileId][i];
        }
        // The owner stays behind as a tombstone so the id is never reused; k == 0 marks it
        // deleted.
        file.size = 0;
        file.segmentSize = 0;
        file.k = 0;
        file.m = 0;
        delete file.shardsRoot;
        delete file.wrappedKeyHash;
        emit FileDeleted(fileId, msg.sender);
    }

    /// @inheritdoc IFileRegistry
    function getFile(FileId fileId) external view returns (FileRecord memory record, NodeId[] memory placements) {
        return _getFile(fileId);
    }

    /// @inheritdoc IFileRegistry
    function getFileWithNodes(FileId fileId)
        external
        view
        returns (FileRecord memory record, NodeId[] memory placements, INodeRegistry.NodeInfo[] memory nodes)
    {
        (record, placements) = _getFile(fileId);
        nodes = new INodeRegistry.NodeInfo[](placements.length);
        for (uint256 i = 0; i < placements.length; ++i) {
            nodes[i] = _nodeRegistry.getNode(placements[i]);
        }
    }

    function _getFile(FileId fileId) private view returns (FileRecord memory record, NodeId[] memory placements) {
        record = _files[fileId];
        if (record.k == 0) revert FileRegistry_UnknownFile(fileId);
        uint256 shards = uint256(record.k) + record.m;
        placements = new NodeId[](shards);
        uint256 word;
        for (uint256 i = 0; i < shards; ++i) {
            if (i % _IDS_PER_SLOT == 0) word = _placements[fileId][i / _IDS_PER_SLOT];
            placements[i] = NodeId.wrap(uint32(word >> (32 * (i % _IDS_PER_SLOT))));
        }
    }

    /// @inheritdoc IFileRegistry
    function placementOf(FileId fileId, uint8 shardIndex) external view returns (NodeId) {
        FileRecord storage file = _files[fileId];
        if (file.k == 0) revert FileRegistry_UnknownFile(fileId);
        uint256 shards = uint256(file.k) + file.m;
        if (shardIndex >= shards) revert FileRegistry_InvalidShardIndex(fileId, shardIndex, shards);
        uint256 word = _placements[fileId][shardIndex / _IDS_PER_SLOT];
        return NodeId.wrap(uint32(word >> (32 * (shardIndex % _IDS_PER_SLOT))));
    }

    /// @inheritdoc IFileRegistry
    function exists(FileId fileId) external view returns (bool) {
        return _files[fileId].k != 0;
    }

    /// @inheritdoc IFileRegistry
    function nodeRegistry() external view returns (address) {
        return address(_nodeRegistry);
    }

    function _storePlacements(FileId fileId, NodeId[] calldata placements) private {
        uint256 word;
        for (uint256 i = 0; i < placements.length; ++i) {
            word |= uint256(NodeId.unwrap(placements[i])) << (32 * (i % _IDS_PER_SLOT));
            if (i % _IDS_PER_SLOT == _IDS_PER_SLOT - 1 || i == placements.length - 1) {
                _placements[fileId][i / _IDS_PER_SLOT] = word;
                word = 0;
            }
        }
    }

    function _requireActive(NodeId[] calldata nodeIds) private view {
        (uint256 index,) = _nodeRegistry.firstInactive(nodeIds);
        if (index != type(uint256).max) _revertInactive(nodeIds[index]);
    }

    /// @dev Reverts with the error that says why `nodeId` cannot take shards (cold path).
    function _revertInactive(NodeId nodeId) private view {
        (, INodeRegistry.NodeStatus status) = _nodeRegistry.firstInactive(_one(nodeId));
        if (status == INodeRegistry.NodeStatus.None) revert FileRegistry_UnknownNode(nodeId);
        revert FileRegistry_NodeNotActive(nodeId);
    }

    function _one(NodeId nodeId) private pure returns (NodeId[] memory ids) {
        ids = new NodeId[](1);
        ids[0] = nodeId;
    }

    function _checkWrappedKey(bytes calldata wrappedKey) private pure {
        if (wrappedKey.length == 0 || wrappedKey.length > MAX_WRAPPED_KEY) {
            revert FileRegistry_InvalidWrappedKey(wrappedKey.length, MAX_WRAPPED_KEY);
        }
    }
}
