// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {NodeId} from "../Types.sol";

/// @title Registry of the storage nodes that rent out disk in the dstore network.
/// @notice A provider registers one node per operator address with a stake, keeps its
/// endpoint, capacity and price current, and leaves through a delayed exit that gives the
/// network time to move the node's shards before the stake can be withdrawn.
interface INodeRegistry {
    /// @notice Life cycle of a node.
    enum NodeStatus {
        /// Never registered.
        None,
        /// Accepting new shards.
        Active,
        /// Leaving: takes no new shards; stake locked until `exitableAt`.
        Exiting,
        /// Left; stake withdrawn.
        Exited
    }

    /// @notice What the registry knows about a node.
    struct NodeInfo {
        /// Address that registered the node; it signs the node's receipts and proofs.
        address operator;
        /// Where the node is in its life cycle.
        NodeStatus status;
        /// Unix time (seconds) from which the stake can be withdrawn; 0 unless exiting.
        uint64 exitableAt;
        /// Disk space offered to the network, in bytes.
        uint64 capacity;
        /// Asking price, in wei per GiB per day.
        uint128 price;
        /// Stake held by the registry, in wei.
        uint128 stake;
        /// Base URL of the node's HTTP API, e.g. `https://node.example:7001`.
        string endpoint;
    }

    /// @notice A node joined the network.
    event NodeRegistered(
        NodeId indexed nodeId, address indexed operator, string endpoint, uint64 capacity, uint128 price, uint128 stake
    );
    /// @notice A node changed its endpoint, capacity or price.
    event NodeUpdated(NodeId indexed nodeId, string endpoint, uint64 capacity, uint128 price);
    /// @notice A node's operator added stake.
    event StakeAdded(NodeId indexed nodeId, uint128 amount, uint128 stake);
    /// @notice A node stopped taking shards; its stake unlocks at `exitableAt` (unix seconds).
    event NodeExitBegan(NodeId indexed nodeId, uint64 exitableAt);
    /// @notice A node left and its operator took back the stake.
    event StakeWithdrawn(NodeId indexed nodeId, address indexed operator, uint128 amount);

    /// @notice The stake sent is below the minimum set at deployment.
    error NodeRegistry_StakeTooLow(uint256 sent, uint256 minimum);
    /// @notice The operator already runs a node that has not exited.
    error NodeRegistry_AlreadyRegistered(address operator, NodeId nodeId);
    /// @notice The caller runs no node (or only one that has exited).
    error NodeRegistry_NotRegistered(address caller);
    /// @notice No node has this id.
    error NodeRegistry_UnknownNode(NodeId nodeId);
    /// @notice The node is not active (it is exiting or has exited).
    error NodeRegistry_NotActive(NodeId nodeId, NodeStatus status);
    /// @notice The node has not begun its exit.
    error NodeRegistry_NotExiting(NodeId nodeId, NodeStatus status);
    /// @notice The exit delay has not passed yet.
    error NodeRegistry_ExitDelayNotElapsed(NodeId nodeId, uint64 exitableAt, uint256 now_);
    /// @notice The endpoint is empty or longer than the limit.
    error NodeRegistry_InvalidEndpoint(uint256 length, uint256 maxLength);
    /// @notice A node must offer some capacity.
    error NodeRegistry_ZeroCapacity();
    /// @notice `addStake` was called without value.
    error NodeRegistry_ZeroAmount();
    /// @notice The stake would exceed what the registry can account (2^128 - 1 wei).
    error NodeRegistry_StakeOverflow(uint256 stake);
    /// @notice A page of the active list was asked for with a zero limit.
    error NodeRegistry_ZeroLimit();

    /// @notice Register the caller's node, staking `msg.value` (at least `minStake()`).
    /// @param endpoint Base URL of the node's HTTP API (1 to 256 bytes).
    /// @param capacity Disk space offered, in bytes (non-zero).
    /// @param price Asking price, in wei per GiB per day.
    /// @return nodeId The node's new compact id.
    function register(string calldata endpoint, uint64 capacity, uint128 price)
        external
        payable
        returns (NodeId nodeId);

    /// @notice Change the endpoint, capacity or price of the caller's active node.
    /// @param endpoint New base URL (1 to 256 bytes).
    /// @param capacity New capacity, in bytes (non-zero).
    /// @param price New price, in wei per GiB per day.
    function update(string calldata endpoint, uint64 capacity, uint128 price) external;

    /// @notice Add `msg.value` to the stake of the caller's active node.
    function addStake() external payable;

    /// @notice Stop taking new shards and start the exit delay of the caller's node.
    function beginExit() external;

    /// @notice After the exit delay, send the caller's whole stake back to it and mark the
    /// node exited. The operator may register again afterwards, under a new id.
    function withdrawStake() external;

    /// @notice Minimum stake to register, in wei.
    function minStake() external view returns (uint256);

    /// @notice Seconds between `beginExit` and the earliest `withdrawStake`.
    function exitDelay() external view returns (uint64);

    /// @notice The node with id `nodeId`; reverts with `NodeRegistry_UnknownNode` if none.
    function getNode(NodeId nodeId) external view returns (NodeInfo memory);

    /// @notice The id of the node `operator` runs, or 0 if it runs none (or it exited).
    function nodeIdOf(address operator) external view returns (NodeId);

    /// @notice Whether the node takes new shards.
    function isActive(NodeId nodeId) external view returns (bool);

    /// @notice The first node of `nodeIds` that is not active, for callers that place shards.
    /// @return index Position in `nodeIds` of the first node that is not active, or
    /// `type(uint256).max` if all are active.
    /// @return status That node's status (`None` if it does not exist).
    function firstInactive(NodeId[] calldata nodeIds) external view returns (uint256 index, NodeStatus status);

    /// @notice How many nodes are active.
    function activeNodeCount() external view returns (uint256);

    /// @notice A page of the active nodes, in no particular order.
    /// @param offset Position of the first node of the page.
    /// @param limit Most nodes to return (non-zero).
    /// @return nodeIds Ids of up to `limit` active nodes from `offset`.
    function activeNodes(uint256 offset, uint256 limit) external view returns (NodeId[] memory nodeIds);

    /// @notice As `activeNodes`, with each node's entry (`nodes[i]` for `nodeIds[i]`, as
    /// `getNode` gives it): a client choosing nodes reads a page in one call instead of one
    /// and then one per node.
    /// @param offset Position of the first node of the page.
    /// @param limit Most nodes to return (non-zero).
    /// @return nodeIds Ids of up to `limit` active nodes from `offset`.
    /// @return nodes The entry of each.
    function activeNodesWithInfo(uint256 offset, uint256 limit)
        external
        view
        returns (NodeId[] memory nodeIds, NodeInfo[] memory nodes);
}
