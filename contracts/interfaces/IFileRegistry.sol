// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {FileId, NodeId} from "../Types.sol";
import {INodeRegistry} from "./INodeRegistry.sol";

/// @title Registry of the files stored in dstore: who owns them and where their shards live.
/// @notice A file is encrypted on its owner's machine, cut into segments and erasure-coded
/// into k data and m parity shards; shard i lives on node `placements[i]`. The record keeps
/// the SHA-256 Merkle root over the shard roots and the hash of the wrapped file key; the
/// events carry the rest (every shard root, the placements and the wrapped key, which is
/// encrypted to the owner), so the owner can rebuild a full view from the chain alone.
interface IFileRegistry {
    /// @notice What the registry keeps per file (one packed slot plus two hashes).
    struct FileRecord {
        /// Account that registered the file and may change or delete it.
        address owner;
        /// Plaintext size, in bytes.
        uint48 size;
        /// Plaintext bytes per segment (the last segment may be shorter).
        uint32 segmentSize;
        /// Data shards: any k of the k + m shards rebuild the file. 0 once deleted.
        uint8 k;
        /// Parity shards.
        uint8 m;
        /// SHA-256 Merkle root over the k + m shard roots (see `MerkleSha256`).
        bytes32 shardsRoot;
        /// keccak256 of the wrapped file key (the blob is in the events).
        bytes32 wrappedKeyHash;
    }

    /// @notice What a client submits to register a file.
    struct FileRegistration {
        /// The owner's address (20 bytes) followed by 12 bytes the client picks at random:
        /// bound to its owner, so no one who sees the id before it is registered (a storage
        /// node, the mempool) can register it first.
        FileId fileId;
        /// Plaintext size, in bytes.
        uint48 size;
        /// Plaintext bytes per segment.
        uint32 segmentSize;
        /// Data shards.
        uint8 k;
        /// Parity shards.
        uint8 m;
        /// SHA-256 Merkle root of each shard, in shard order (k + m of them).
        bytes32[] shardRoots;
        /// Node holding each shard, in shard order (k + m of them; repeats allowed when
        /// the network has fewer nodes than shards).
        NodeId[] placements;
        /// The file key, encrypted to the owner's account key (never a raw key).
        bytes wrappedKey;
    }

    /// @notice A file was registered; carries what any device needs to fetch it. The shards
    /// root is left out: it is the Merkle root of `shardRoots` (and in the record).
    event FileRegistered(
        FileId indexed fileId,
        address indexed owner,
        uint48 size,
        uint32 segmentSize,
        uint8 k,
        uint8 m,
        bytes32[] shardRoots,
        NodeId[] placements,
        bytes wrappedKey
    );
    /// @notice Shard `shardIndex` moved from node `from` to node `to` (repair).
    event ShardReassigned(FileId indexed fileId, uint8 shardIndex, NodeId indexed from, NodeId indexed to);
    /// @notice The file key was wrapped anew; `wrappedKey` replaces the earlier blob.
    event FileRekeyed(FileId indexed fileId, bytes32 wrappedKeyHash, bytes wrappedKey);
    /// @notice The file was deleted; nodes may drop its shards.
    event FileDeleted(FileId indexed fileId, address indexed owner);

    /// @notice A file with this id exists or existed (ids are never reused).
    error FileRegistry_FileExists(FileId fileId);
    /// @notice A file id must start with the address that registers it.
    error FileRegistry_IdNotBoundToCaller(FileId fileId, address caller);
    /// @notice No live file has this id.
    error FileRegistry_UnknownFile(FileId fileId);
    /// @notice Only the file's owner may do this.
    error FileRegistry_NotOwner(FileId fileId, address caller);
    /// @notice k must be between 1 and `MAX_K`.
    error FileRegistry_InvalidK(uint8 k, uint8 maxK);
    /// @notice m must be between 1 and `MAX_M`.
    error FileRegistry_InvalidM(uint8 m, uint8 maxM);
    /// @notice k + m must not exceed `MAX_SHARDS`.
    error FileRegistry_TooManyShards(uint256 shards, uint256 maxShards);
    /// @notice The segment size must be between 1 byte and `MAX_SEGMENT_SIZE`.
    error FileRegistry_InvalidSegmentSize(uint32 segmentSize, uint32 maxSegmentSize);
    /// @notice There must be exactly one placement per shard.
    error FileRegistry_PlacementCountMismatch(uint256 given, uint256 expected);
    /// @notice There must be exactly one root per shard.
    error FileRegistry_ShardRootCountMismatch(uint256 given, uint256 expected);
    /// @notice The shard index is not below k + m.
    error FileRegistry_InvalidShardIndex(FileId fileId, uint256 shardIndex, uint256 shards);
    /// @notice No node has this id.
    error FileRegistry_UnknownNode(NodeId nodeId);
    /// @notice The node exists but takes no new shards (it is exiting or has exited).
    error FileRegistry_NodeNotActive(NodeId nodeId);
    /// @notice The wrapped key is empty or longer than `MAX_WRAPPED_KEY`.
    error FileRegistry_InvalidWrappedKey(uint256 length, uint256 maxLength);

    /// @notice Register a file whose shards the nodes in `r.placements` have already stored.
    /// The caller becomes the owner; `r.fileId` must start with the caller's address. The
    /// shards root and wrapped-key hash are computed here from `r.shardRoots` and
    /// `r.wrappedKey`, so the record and the event always agree.
    /// @param r The file's parameters, shard roots, placements and wrapped key.
    function registerFile(FileRegistration calldata r) external;

    /// @notice Move shard `shardIndex` to node `to`, after the owner stored it there (repair).
    /// @param fileId The file.
    /// @param shardIndex Which shard (0 to k + m - 1).
    /// @param to An active node that now holds the shard.
    function reassignShard(FileId fileId, uint8 shardIndex, NodeId to) external;

    /// @notice Replace the wrapped file key (e.g. after the owner rotated keys).
    /// @param fileId The file.
    /// @param wrappedKey The file key wrapped anew, encrypted to the owner.
    function rekey(FileId fileId, bytes calldata wrappedKey) external;

    /// @notice Delete the file; nodes watching the chain drop its shards.
    /// @param fileId The file.
    function deleteFile(FileId fileId) external;

    /// @notice The record of a live file and the node of each of its shards.
    /// Reverts with `FileRegistry_UnknownFile` if the file does not exist or was deleted.
    function getFile(FileId fileId) external view returns (FileRecord memory record, NodeId[] memory placements);

    /// @notice As `getFile`, with the node registry's entry of the node holding each shard
    /// (`nodes[i]` for `placements[i]`): what a download needs of the chain, besides the
    /// events' shard roots and wrapped key, in one call instead of one and then one per node.
    /// Reverts with `FileRegistry_UnknownFile` if the file does not exist or was deleted.
    function getFileWithNodes(FileId fileId)
        external
        view
        returns (FileRecord memory record, NodeId[] memory placements, INodeRegistry.NodeInfo[] memory nodes);

    /// @notice The node holding shard `shardIndex` of a live file.
    function placementOf(FileId fileId, uint8 shardIndex) external view returns (NodeId);

    /// @notice Whether a live (registered, not deleted) file has this id.
    function exists(FileId fileId) external view returns (bool);

    /// @notice The node registry whose nodes may hold shards.
    function nodeRegistry() external view returns (address);
}
