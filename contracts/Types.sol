// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Compact id of a registered storage node; ids start at 1, 0 means "none".
type NodeId is uint32;

/// @notice Id of a stored file, chosen at random by the client that registers it.
type FileId is bytes32;
