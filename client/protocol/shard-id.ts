import { AbiCoder, keccak256 } from "ethers";

/** A file id: 32 random bytes chosen by the uploading client, as 0x-hex. */
export type FileId = `0x${string}`;

/** A shard id: keccak256(abi.encode(fileId, shardIndex)) as 64 lowercase hex characters. */
export type ShardId = string;

const SHARD_ID = /^[0-9a-f]{64}$/;
const FILE_ID = /^0x[0-9a-fA-F]{64}$/;

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
