import { randomBytes } from "node:crypto";
import { AbiCoder, keccak256 } from "ethers";

/**
 * A file id, as 0x-hex: the owner's address (20 bytes) and 12 random bytes. FileRegistry
 * only lets that address register it, so an id seen early (by a node) cannot be taken.
 */
export type FileId = `0x${string}`;

/** A shard id: keccak256(abi.encode(fileId, shardIndex)) as 64 lowercase hex characters. */
export type ShardId = string;

const SHARD_ID = /^[0-9a-f]{64}$/;
const FILE_ID = /^0x[0-9a-fA-F]{64}$/;

/** A fresh file id for `owner` (a 0x address). */
export function newFileId(owner: string): FileId {
  return `0x${owner.slice(2).toLowerCase()}${randomBytes(12).toString("hex")}`;
}

/** The id under which a node stores shard `index` of `fileId`. */
export function shardIdOf(fileId: FileId, index: number): ShardId {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint8"], [fileId, index])).slice(
    2,
  );
}

/** Whether `value` is a well-formed shard id (fixed-length lowercase hex). */
export function isShardId(value: unknown): value is ShardId {
  return typeof value === "string" && SHARD_ID.test(value);
}

/** Whether `value` is a well-formed file id (0x + 64 hex characters). */
export function isFileId(value: unknown): value is FileId {
  return typeof value === "string" && FILE_ID.test(value);
}
