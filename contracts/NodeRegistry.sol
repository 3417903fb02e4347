// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {NodeId} from "./Types.sol";

/// @title NodeRegistry
/// @notice See {INodeRegistry}. Active nodes sit in an array with an index per node, so
/// joining, leaving and paging are O(1) per node and nothing loops over the network.
contract NodeRegistry is INodeRegistry, ReentrancyGuard {
    /// @notice Longest endpoint URL accepted, in bytes.
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;

    uint256 private immutable _minStake;
    uint64 private immutable _exitDelay;

    /// @dev Ids are handed out from 1; 0 means "none".
    uint32 private _lastId;
    mapping(NodeId nodeId => NodeInfo) private _nodes;
    mapping(address operator => NodeId) private _nodeOf;
    NodeId[] private _active;
    /// @dev Position in `_active` plus one; 0 when the node is not in the list.
    mapping(NodeId nodeId => uint256) private _activeSlot;
    /// @dev Bit `id % 256` of word `id / 256` is set while node `id` is active, so checking
    /// the placements of a file costs one storage read for up to 256 nodes.
    mapping(uint256 word => uint256 bits) private _activeBits;

    /// @param minStake_ Minimum stake to register, in wei.
    /// @param exitDelay_ Seconds between `beginExit` and the earliest `withdrawStake`.
    constructor(uint256 minStake_, uint64 exitDelay_) {
        _minStake = minStake_;
        _exitDelay = exitDelay_;
    }

    /// @inheritdoc INodeRegistry
    function register(string calldata endpoint, uint64 capacity, uint128 price)
        external
        payable
        returns (NodeId nodeId)
    {
        NodeId existing = _nodeOf[msg.sender];
        if (NodeId.unwrap(existing) != 0) revert NodeRegistry_AlreadyRegistered(msg.sender, existing);
        if (msg.value < _minStake) revert NodeRegistry_StakeTooLow(msg.value, _minStake);
        if (msg.value > type(uint128).max) revert NodeRegistry_StakeOverflow(msg.value);
        _checkTerms(endpoint, capacity);

        nodeId = NodeId.wrap(++_lastId);
        _nodes[nodeId] = NodeInfo({
            operator: msg.sender,
            status: NodeStatus.Active,
            exitableAt: 0,
            capacity: capacity,
            price: price,
            stake: uint128(msg.value),
            endpoint: endpoint
        });
        _nodeOf[msg.sender] = nodeId;
        _active.push(nodeId);
        _activeSlot[nodeId] = _active.length;
        _activeBits[uint256(NodeId.unwrap(nodeId)) >> 8] |= _bit(nodeId);
        emit NodeRegistered(nodeId, msg.sender, endpoint, capacity, price, uint128(msg.value));
    }

    /// @inheritdoc INodeRegistry
    function update(string calldata endpoint, uint64 capacity, uint128 price) external {
        (NodeId nodeId, NodeInfo storage node) = _activeNodeOfCaller();
        _checkTerms(endpoint, capacity);
        node.endpoint = endpoint;
        node.capacity = capacity;
        node.price = price;
        emit NodeUpdated(nodeId, endpoint, capacity, price);
    }

    /// @inheritdoc INodeRegistry
    function addStake() external payable {
        if (msg.value == 0) revert NodeRegistry_ZeroAmount();
        (NodeId nodeId, NodeInfo storage node) = _activeNodeOfCaller();
        uint256 total = uint256(node.stake) + msg.value;
        if (total > type(uint128).max) revert NodeRegistry_StakeOverflow(total);
        node.stake = uint128(total);
        emit StakeAdded(nodeId, uint128(msg.value), uint128(total));
    }

    /// @inheritdoc INodeRegistry
    function beginExit() external {
        (NodeId nodeId, NodeInfo storage node) = _activeNodeOfCaller();
        uint64 exitableAt = uint64(block.timestamp) + _exitDelay;
        node.status = NodeStatus.Exiting;
        node.exitableAt = exitableAt;
        _removeActive(nodeId);
        emit NodeExitBegan(nodeId, exitableAt);
    }

    /// @inheritdoc INodeRegistry
    function withdrawStake() external nonReentrant {
        NodeId nodeId = _nodeOf[msg.sender];
        if (NodeId.unwrap(nodeId) == 0) revert NodeRegistry_NotRegistered(msg.sender);
        NodeInfo storage node = _nodes[nodeId];
        if (node.status != NodeStatus.Exiting) revert NodeRegistry_NotExiting(nodeId, node.status);
        if (block.timestamp < node.exitableAt) {
            revert NodeRegistry_ExitDelayNotElapsed(nodeId, node.exitableAt, block.timestamp);
        }
        uint128 amount = node.stake;
        node.stake = 0;
        node.status = NodeStatus.Exited;
        _nodeOf[msg.sender] = NodeId.wrap(0);
        emit StakeWithdrawn(nodeId, msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc INodeRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc INodeRegistry
    function exitDelay() external view returns (uint64) {
        return _exitDelay;
    }

    /// @inheritdoc INodeRegistry
    function getNode(NodeId nodeId) external view returns (NodeInfo memory) {
        NodeInfo storage node = _nodes[nodeId];
        if (node.status == NodeStatus.None) revert NodeRegistry_UnknownNode(nodeId);
        return node;
    }

    /// @inheritdoc INodeRegistry
    function nodeIdOf(address operator) external view returns (NodeId) {
        return _nodeOf[operator];
    }

    /// @inheritdoc INodeRegistry
    function isActive(NodeId nodeId) external view returns (bool) {
        return _nodes[nodeId].status == NodeStatus.Active;
    }

    /// @inheritdoc INodeRegistry
    function firstInactive(NodeId[] calldata nodeIds) external view returns (uint256 index, NodeStatus status) {
        uint256 wordIndex = type(uint256).max;
        uint256 bits;
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            NodeId nodeId = nodeIds[i];
            uint256 w = uint256(NodeId.unwrap(nodeId)) >> 8;
            if (w != wordIndex) {
                wordIndex = w;
                bits = _activeBits[w];
            }
            if (bits & _bit(nodeId) == 0) return (i, _nodes[nodeId].status);
        }
        return (type(uint256).max, NodeStatus.Active);
    }

    /// @inheritdoc INodeRegistry
    function activeNodeCount() external view returns (uint256) {
        return _active.length;
    }

    /// @inheritdoc INodeRegistry
    function activeNodes(uint256 offset, uint256 limit) external view returns (NodeId[] memory nodeIds) {
        return _activeNodes(offset, limit);
    }

    /// @inheritdoc INodeRegistry
    function activeNodesWithInfo(uint256 offset, uint256 limit)
        external
        view
        returns (NodeId[] memory nodeIds, NodeInfo[] memory nodes)
    {
        nodeIds = _activeNodes(offset, limit);
        nodes = new NodeInfo[](nodeIds.length);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            nodes[i] = _nodes[nodeIds[i]];
        }
    }

    function _activeNodes(uint256 offset, uint256 limit) private view returns (NodeId[] memory nodeIds) {
        if (limit == 0) revert NodeRegistry_ZeroLimit();
        uint256 total = _active.length;
        if (offset >= total) return new NodeId[](0);
        uint256 count = total - offset < limit ? total - offset : limit;
        nodeIds = new NodeId[](count);
        for (uint256 i = 0; i < count; ++i) {
            nodeIds[i] = _active[offset + i];
        }
    }

    function _activeNodeOfCaller() private view returns (NodeId nodeId, NodeInfo storage node) {
        nodeId = _nodeOf[msg.sender];
        if (NodeId.unwrap(nodeId) == 0) revert NodeRegistry_NotRegistered(msg.sender);
        node = _nodes[nodeId];
        if (node.status != NodeStatus.Active) revert NodeRegistry_NotActive(nodeId, node.status);
    }

    function _checkTerms(string calldata endpoint, uint64 capacity) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) {
            revert NodeRegistry_InvalidEndpoint(length, MAX_ENDPOINT_LENGTH);
        }
        if (capacity == 0) revert NodeRegistry_ZeroCapacity();
    }

    /// @dev Swap-and-pop removal from the active list.
    function _removeActive(NodeId nodeId) private {
        uint256 slot = _activeSlot[nodeId];
        uint256 last = _active.length;
        if (slot != last) {
            NodeId moved = _active[last - 1];
            _active[slot - 1] = moved;
            _activeSlot[moved] = slot;
        }
        _active.pop();
        delete _activeSlot[nodeId];
        _activeBits[uint256(NodeId.unwrap(nodeId)) >> 8] &= ~_bit(nodeId);
    }

    function _bit(NodeId nodeId) private pure returns (uint256) {
        return uint256(1) << (NodeId.unwrap(nodeId) & 0xff);
    }
}
