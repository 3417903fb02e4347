// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {NodeId} from "../../contracts/Types.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev An operator contract that refuses the stake sent back to it.
contract RefusingOperator {
    error RefusingOperator_NoThanks();

    function register(NodeRegistry registry) external payable {
        registry.register{value: msg.value}("https://refusing.example", 1, 0);
    }

    function beginExit(NodeRegistry registry) external {
        registry.beginExit();
    }

    function withdrawStake(NodeRegistry registry) external {
        registry.withdrawStake();
    }

    receive() external payable {
        revert RefusingOperator_NoThanks();
    }
}

/// @dev An operator contract that refuses the stake without saying why.
contract SilentOperator {
    function register(NodeRegistry registry) external payable {
        registry.register{value: msg.value}("https://silent.example", 1, 0);
    }

    function beginExit(NodeRegistry registry) external {
        registry.beginExit();
    }

    function withdrawStake(NodeRegistry registry) external {
        registry.withdrawStake();
    }
}

/// @dev An operator contract that tries to withdraw its stake twice from its `receive`.
contract ReenteringOperator {
    NodeRegistry private immutable _registry;

    constructor(NodeRegistry registry) {
        _registry = registry;
    }

    function register() external payable {
        _registry.register{value: msg.value}("https://reentering.example", 1, 0);
    }

    function beginExit() external {
        _registry.beginExit();
    }

    function withdrawStake() external {
        _registry.withdrawStake();
    }

    receive() external payable {
        _registry.withdrawStake();
    }
}

contract NodeRegistryTest is TestBase {
    uint256 private constant MIN_STAKE = 0.01 ether;
    uint64 private constant EXIT_DELAY = 1 days;
    uint256 private constant START = 1_700_000_000;

    NodeRegistry private registry;

    function setUp() public {
        vm.warp(START);
        registry = new NodeRegistry(MIN_STAKE, EXIT_DELAY);
    }

    // ---------------------------------------------------------------- registration

    /// Any endpoint length, capacity, price and stake: valid terms register with getters that
    /// agree; invalid ones revert with the error of the first check that fails.
    function testFuzz_registerAcceptsValidTermsAndRejectsInvalidOnes(
        uint256 operatorSeed,
        uint16 endpointLength,
        uint64 capacity,
        uint128 price,
        uint256 stakeSeed
    ) public {
        address operator = _account("operator", operatorSeed);
        uint256 length = _bound(endpointLength, 0, 300);
        string memory endpoint = _endpoint(length);
        // A quarter of the runs try any stake (mostly above 2^128); the rest stay near the minimum.
        uint256 stake = stakeSeed % 4 == 0 ? stakeSeed : _bound(stakeSeed, 0, 10 * MIN_STAKE);
        vm.deal(operator, stake);

        bytes memory expected;
        if (stake < MIN_STAKE) {
            expected = abi.encodeWithSelector(INodeRegistry.NodeRegistry_StakeTooLow.selector, stake, MIN_STAKE);
        } else if (stake > type(uint128).max) {
            expected = abi.encodeWithSelector(INodeRegistry.NodeRegistry_StakeOverflow.selector, stake);
        } else if (length == 0 || length > 256) {
            expected = abi.encodeWithSelector(INodeRegistry.NodeRegistry_InvalidEndpoint.selector, length, 256);
        } else if (capacity == 0) {
            expected = abi.encodeWithSelector(INodeRegistry.NodeRegistry_ZeroCapacity.selector);
        }

        if (expected.length != 0) {
            vm.expectRevert(expected);
            vm.prank(operator);
            registry.register{value: stake}(endpoint, capacity, price);
            assertEq(registry.activeNodeCount(), 0, "no node after a failed registration");
            return;
        }

        vm.prank(operator);
        NodeId nodeId = registry.register{value: stake}(endpoint, capacity, price);
        assertEq(NodeId.unwrap(nodeId), 1, "first id");
        INodeRegistry.NodeInfo memory node = registry.getNode(nodeId);
        assertEq(node.operator, operator, "operator");
        assertEq(uint256(node.status), uint256(INodeRegistry.NodeStatus.Active), "status");
        assertEq(node.exitableAt, 0, "exitableAt");
        assertEq(node.capacity, capacity, "capacity");
        assertEq(node.price, price, "price");
        assertEq(node.stake, stake, "stake");
        assertEq(node.endpoint, endpoint, "endpoint");
        assertEq(NodeId.unwrap(registry.nodeIdOf(operator)), 1, "nodeIdOf");
        assertTrue(registry.isActive(nodeId), "isActive");
        assertEq(registry.activeNodeCount(), 1, "activeNodeCount");
        assertEq(address(registry).balance, stake, "registry holds the stake");
        assertEq(operator.balance, 0, "operator paid the stake");
    }

    function test_registerAcceptsTheBoundaryTerms() public {
        address operator = _account("operator", 0);
        vm.deal(operator, type(uint128).max);
        vm.prank(operator);
        NodeId nodeId = registry.register{value: type(uint128).max}(_endpoint(256), 1, type(uint128).max);
        assertEq(registry.getNode(nodeId).stake, type(uint128).max, "largest stake");
        assertEq(bytes(registry.getNode(nodeId).endpoint).length, 256, "longest endpoint");
    }

    // ---------------------------------------------------------------- exit and withdrawal

    /// Withdrawal before `exitableAt` reverts with the times; from then on it pays back exactly
    /// the stake, once.
    function testFuzz_withdrawOnlyAfterTheDelayAndExactlyTheStake(uint256 stakeSeed, uint256 waitSeed) public {
        address operator = _account("operator", 1);
        uint256 stake = _bound(stakeSeed, MIN_STAKE, 1_000 ether);
        uint256 wait = _bound(waitSeed, 0, 2 * EXIT_DELAY);
        NodeId nodeId = _register(operator, stake);
        vm.prank(operator);
        registry.beginExit();
        uint64 exitableAt = registry.getNode(nodeId).exitableAt;
        assertEq(exitableAt, START + EXIT_DELAY, "exitableAt");

        vm.warp(START + wait);
        if (wait < EXIT_DELAY) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    INodeRegistry.NodeRegistry_ExitDelayNotElapsed.selector, nodeId, exitableAt, START + wait
                )
            );
            vm.prank(operator);
            registry.withdrawStake();
            assertEq(address(registry).balance, stake, "stake still held");
            return;
        }
        vm.prank(operator);
        registry.withdrawStake();
        assertEq(operator.balance, stake, "stake returned");
        assertEq(address(registry).balance, 0, "nothing left behind");
        assertEq(uint256(registry.getNode(nodeId).status), uint256(INodeRegistry.NodeStatus.Exited), "exited");

        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistry_NotRegistered.selector, operator));
        vm.prank(operator);
        registry.withdrawStake();
    }

    function test_withdrawToAnOperatorThatRefusesBubblesItsError() public {
        RefusingOperator operator = new RefusingOperator();
        operator.register{value: MIN_STAKE}(registry);
        operator.beginExit(registry);
        vm.warp(START + EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(RefusingOperator.RefusingOperator_NoThanks.selector));
        operator.withdrawStake(registry);
        assertEq(address(registry).balance, MIN_STAKE, "stake still held");
    }

    function test_withdrawToAnOperatorThatRefusesSilentlyRevertsWithFailedCall() public {
        SilentOperator operator = new SilentOperator();
        operator.register{value: MIN_STAKE}(registry);
        operator.beginExit(registry);
        vm.warp(START + EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(Errors.FailedCall.selector));
        operator.withdrawStake(registry);
        assertEq(address(registry).balance, MIN_STAKE, "stake still held");
    }

    function test_withdrawCannotBeReentered() public {
        ReenteringOperator operator = new ReenteringOperator(registry);
        operator.register{value: MIN_STAKE}();
        operator.beginExit();
        vm.warp(START + EXIT_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector));
        operator.withdrawStake();
        assertEq(address(registry).balance, MIN_STAKE, "stake still held");
    }

    /// A random run of registrations, top-ups, exits, waits and withdrawals: every call
    /// succeeds exactly when the life cycle allows it, and the registry always holds exactly
    /// the stakes of the nodes that have not exited.
    function testFuzz_stakeIsConservedOverAnyLifeCycle(uint256 seed) public {
        uint256 operators = 4;
        NodeId[] memory ids = new NodeId[](operators);
        uint256[] memory stakes = new uint256[](operators);
        uint256 held;
        uint256 active;
        uint256 paidOut;
        uint256 paidIn;

        for (uint256 step = 0; step < 40; ++step) {
            uint256 r = _draw(seed, step);
            uint256 who = r % operators;
            address operator = _account("life", who);
            NodeId nodeId = ids[who];
            INodeRegistry.NodeStatus status = NodeId.unwrap(nodeId) == 0
                ? INodeRegistry.NodeStatus.Exited
                : registry.getNode(nodeId).status;
            uint256 action = (r >> 8) % 5;
            uint256 amount = _bound(r >> 16, MIN_STAKE, 3 * MIN_STAKE);

            if (action == 0) {
                bool allowed = status == INodeRegistry.NodeStatus.Exited;
                vm.deal(operator, operator.balance + amount);
                vm.prank(operator);
                (bool ok, bytes memory ret) = address(registry).call{value: amount}(
                    abi.encodeCall(NodeRegistry.register, ("https://n.example", 1, 0))
                );
                assertTrue(ok == allowed, "register allowed exactly when no live node");
                if (ok) {
                    ids[who] = abi.decode(ret, (NodeId));
                    stakes[who] = amount;
                    held += amount;
                    paidIn += amount;
                    ++active;
                }
            } else if (action == 1) {
                bool allowed = status == INodeRegistry.NodeStatus.Active;
                vm.deal(operator, operator.balance + amount);
                vm.prank(operator);
                (bool ok,) = address(registry).call{value: amount}(abi.encodeCall(NodeRegistry.addStake, ()));
                assertTrue(ok == allowed, "addStake allowed exactly when active");
                if (ok) {
                    stakes[who] += amount;
                    held += amount;
                    paidIn += amount;
                }
            } else if (action == 2) {
                bool allowed = status == INodeRegistry.NodeStatus.Active;
                vm.prank(operator);
                (bool ok,) = address(registry).call(abi.encodeCall(NodeRegistry.beginExit, ()));
                assertTrue(ok == allowed, "beginExit allowed exactly when active");
                if (ok) --active;
            } else if (action == 3) {
                vm.warp(block.timestamp + _bound(r >> 24, 0, EXIT_DELAY));
            } else {
                bool allowed = status == INodeRegistry.NodeStatus.Exiting
                    && block.timestamp >= registry.getNode(nodeId).exitableAt;
                uint256 before = operator.balance;
                vm.prank(operator);
                (bool ok,) = address(registry).call(abi.encodeCall(NodeRegistry.withdrawStake, ()));
                assertTrue(ok == allowed, "withdrawStake allowed exactly when exiting and unlocked");
                if (ok) {
                    assertEq(operator.balance - before, stakes[who], "whole stake returned");
                    held -= stakes[who];
                    paidOut += stakes[who];
                    stakes[who] = 0;
                }
            }
            assertEq(address(registry).balance, held, "registry holds the live stakes");
            assertEq(paidIn - paidOut, held, "nothing created or lost");
            assertEq(registry.activeNodeCount(), active, "active count");
        }
    }

    // ---------------------------------------------------------------- active list and bitmap

    /// Any set of exits, in any order: the active list holds every active node exactly once,
    /// and reading it in pages of any size gives the same list.
    function testFuzz_activeListStaysConsistentUnderSwapAndPop(uint8 countSeed, uint256 seed, uint8 limitSeed)
        public
    {
        uint256 count = _bound(countSeed, 1, 32);
        for (uint256 i = 0; i < count; ++i) {
            _register(_account("list", i), MIN_STAKE);
        }
        bool[] memory exited = new bool[](count + 1);
        uint256 exits = _bound(_draw(seed, 0), 0, count);
        uint256 active = count;
        for (uint256 j = 0; j < exits; ++j) {
            uint256 i = _draw(seed, j + 1) % count;
            if (exited[i + 1]) continue;
            exited[i + 1] = true;
            --active;
            vm.prank(_account("list", i));
            registry.beginExit();
        }

        assertEq(registry.activeNodeCount(), active, "active count");
        NodeId[] memory all = registry.activeNodes(0, count + 1);
        assertEq(all.length, active, "list length");
        bool[] memory seen = new bool[](count + 1);
        for (uint256 i = 0; i < all.length; ++i) {
            uint256 id = NodeId.unwrap(all[i]);
            assertTrue(id >= 1 && id <= count, "listed id was handed out");
            assertTrue(!exited[id], "listed node is active");
            assertTrue(!seen[id], "listed once");
            seen[id] = true;
        }

        uint256 limit = _bound(limitSeed, 1, count + 1);
        uint256 read;
        for (uint256 offset = 0; offset < active; offset += limit) {
            NodeId[] memory page = registry.activeNodes(offset, limit);
            assertEq(page.length, active - offset < limit ? active - offset : limit, "page length");
            for (uint256 i = 0; i < page.length; ++i) {
                assertEq(NodeId.unwrap(page[i]), NodeId.unwrap(all[read++]), "pages follow the list");
            }
        }
        assertEq(registry.activeNodes(active, limit).length, 0, "empty page past the end");

        NodeId[] memory everyone = new NodeId[](count);
        uint256 firstExited = type(uint256).max;
        for (uint256 i = 0; i < count; ++i) {
            everyone[i] = NodeId.wrap(uint32(i + 1));
            if (exited[i + 1] && firstExited == type(uint256).max) firstExited = i;
        }
        (uint256 index, INodeRegistry.NodeStatus status) = registry.firstInactive(everyone);
        assertEq(index, firstExited, "firstInactive index");
        assertEq(
            uint256(status),
            uint256(firstExited == type(uint256).max ? INodeRegistry.NodeStatus.Active : INodeRegistry.NodeStatus.Exiting),
            "firstInactive status"
        );
    }

    /// Node ids past 255 live in the next word of the active bitmap.
    function test_firstInactiveReadsEveryWordOfTheBitmap() public {
        for (uint256 i = 0; i < 300; ++i) {
            _register(_account("many", i), MIN_STAKE);
        }
        // Nodes 255 (last bit of word 0), 256 (first bit of word 1) and 300 leave.
        vm.prank(_account("many", 254));
        registry.beginExit();
        vm.prank(_account("many", 255));
        registry.beginExit();
        vm.prank(_account("many", 299));
        registry.beginExit();

        NodeId[] memory ids = new NodeId[](4);
        ids[0] = NodeId.wrap(1);
        ids[1] = NodeId.wrap(254);
        ids[2] = NodeId.wrap(257);
        ids[3] = NodeId.wrap(299);
        (uint256 index,) = registry.firstInactive(ids);
        assertEq(index, type(uint256).max, "all active across words");

        ids[2] = NodeId.wrap(256);
        (uint256 at, INodeRegistry.NodeStatus status) = registry.firstInactive(ids);
        assertEq(at, 2, "first bit of word 1");
        assertEq(uint256(status), uint256(INodeRegistry.NodeStatus.Exiting), "exiting");

        ids[1] = NodeId.wrap(255);
        (at,) = registry.firstInactive(ids);
        assertEq(at, 1, "last bit of word 0");

        ids[0] = NodeId.wrap(301);
        (at, status) = registry.firstInactive(ids);
        assertEq(at, 0, "unknown id in word 1");
        assertEq(uint256(status), uint256(INodeRegistry.NodeStatus.None), "unknown");

        ids[0] = NodeId.wrap(uint32(2 ** 32 - 1));
        (at, status) = registry.firstInactive(ids);
        assertEq(at, 0, "largest id");
        assertEq(uint256(status), uint256(INodeRegistry.NodeStatus.None), "largest id unknown");
        assertEq(registry.activeNodeCount(), 297, "active count");
    }

    // ---------------------------------------------------------------- helpers

    function _register(address operator, uint256 stake) private returns (NodeId) {
        vm.deal(operator, stake);
        vm.prank(operator);
        return registry.register{value: stake}("https://node.example:7001", 1 << 40, 1000);
    }

    function _endpoint(uint256 length) private pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i = 0; i < length; ++i) {
            b[i] = "a";
        }
        return string(b);
    }
}
