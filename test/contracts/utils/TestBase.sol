// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm, VM_ADDRESS} from "./Vm.sol";

/// @title Minimal base of the dstore Solidity tests: the cheatcodes, assertions that revert
/// with the values they compared, and a bounded-input helper for fuzz tests.
abstract contract TestBase {
    /// @notice Two values that should be equal are not (`what` names the check).
    error Assert_NotEqual(string what, uint256 actual, uint256 expected);
    /// @notice Two hashes or ids that should be equal are not.
    error Assert_NotEqualBytes32(string what, bytes32 actual, bytes32 expected);
    /// @notice Two addresses that should be equal are not.
    error Assert_NotEqualAddress(string what, address actual, address expected);
    /// @notice Two strings that should be equal are not.
    error Assert_NotEqualString(string what, string actual, string expected);
    /// @notice A condition that should hold does not.
    error Assert_False(string what);

    Vm internal constant vm = Vm(VM_ADDRESS);

    function assertEq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) revert Assert_NotEqual(what, actual, expected);
    }

    function assertEq(bytes32 actual, bytes32 expected, string memory what) internal pure {
        if (actual != expected) revert Assert_NotEqualBytes32(what, actual, expected);
    }

    function assertEq(address actual, address expected, string memory what) internal pure {
        if (actual != expected) revert Assert_NotEqualAddress(what, actual, expected);
    }

    function assertEq(string memory actual, string memory expected, string memory what) internal pure {
        if (keccak256(bytes(actual)) != keccak256(bytes(expected))) {
            revert Assert_NotEqualString(what, actual, expected);
        }
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert Assert_False(what);
    }

    /// @dev `x` mapped into [min, max] (inclusive), spreading inputs evenly; min <= max.
    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        uint256 span = max - min;
        if (span == type(uint256).max) return x;
        return min + (x % (span + 1));
    }

    /// @dev The `i`-th pseudo-random word drawn from `seed`.
    function _draw(uint256 seed, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, i)));
    }

    /// @dev A fresh externally owned address for `label` and `i` (no code, no precompile).
    function _account(string memory label, uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode(label, i)))));
    }
}
