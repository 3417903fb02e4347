/** Messages between a storage node and its Merkle worker (`merkle-worker.ts`). */
import type { SharedWasmMemory } from "../client/data-path/aligned-blocks.ts";

/** The memory the worker reads blocks from: the process's aligned-blocks arena. */
export interface MerkleMemoryMessage {
  op: "memory";
  memory: SharedWasmMemory;
}

/** Hash the next `length` bytes of upload `id`, at `offset` in the arena. */
export interface MerkleUpdateMessage {
  op: "update";
  id: number;
  offset: number;
  length: number;
}

/** Finish upload `id`: its root, and the leaf hashes not yet given. */
export interface MerkleDigestMessage {
  op: "digest";
  id: number;
}

/** Forget upload `id` (it failed). */
export interface MerkleDropMessage {
  op: "drop";
  id: number;
}

export type MerkleRequest =
  | MerkleMemoryMessage
  | MerkleUpdateMessage
  | MerkleDigestMessage
  | MerkleDropMessage;

/** The answer to an update or a digest, in the order asked. */
export interface MerkleResponse {
  /** Leaf hashes completed by the request, 32 bytes each, in order. */
  leaves: Uint8Array;
  /** The root, for a digest. */
  root?: Uint8Array;
  error?: string;
}
