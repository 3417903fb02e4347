// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The few Foundry cheatcodes the dstore Solidity tests use.
/// @notice Hardhat 3 runs `*.t.sol` files with Foundry-compatible cheatcodes at
/// `VM_ADDRESS`. forge-std is not a dependency, so only what the tests call is declared.
interface Vm {
    /// @notice Make the next call come from `sender`.
    function prank(address sender) external;

    /// @notice Make every call come from `sender` until `stopPrank`.
    function startPrank(address sender) external;

    /// @notice End `startPrank`.
    function stopPrank() external;

    /// @notice Set the balance of `account` to `newBalance` wei.
    function deal(address account, uint256 newBalance) external;

    /// @notice Set `block.timestamp` to `newTimestamp` (unix seconds).
    function warp(uint256 newTimestamp) external;

    /// @notice Expect the next call to revert with exactly `revertData`.
    function expectRevert(bytes calldata revertData) external;

    /// @notice Discard the current fuzz input unless `condition` holds.
    function assume(bool condition) external;
}

/// @dev address(uint160(uint256(keccak256("hevm cheat code")))).
address constant VM_ADDRESS = 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D;
