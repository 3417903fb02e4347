import { LEAF_SIZE, leafCount, merklePath } from "../client/protocol/merkle.ts";
import type { ShardId } from "../client/protocol/shard-id.ts";
import { NodeServiceError } from "./errors.ts";
import type { ShardStore } from "./shard-store.ts";

/** A Merkle proof that a node holds one 4 KiB leaf of a shard. */
export interface LeafProof {
  shardId: ShardId;
  leafIndex: number;
  /** The leaf's bytes (the last leaf may be short). */
  leaf: Buffer;
  /** Sibling hashes from the leaf level up. */
  path: Buffer[];
  /** The shard's Merkle root (0x-hex). */
  root: string;
  /** Shard size in bytes, which fixes the tree's depth. */
  size: number;
}

/**
 * Builds storage proofs from a shard's bytes and the leaf hashes stored beside it. The
 * path costs O(leaves) small hashes, done in batches that give the event loop back.
 */
export class Prover {
  readonly #store: ShardStore;

  constructor(store: ShardStore) {
    this.#store = store;
  }

  /** Prove leaf `leafIndex` of shard `shardId`. */
  async prove(shardId: ShardId, leafIndex: number): Promise<LeafProof> {
    const meta = this.#store.get(shardId);
    if (!meta) throw new NodeServiceError("ShardNotFound", "this node does not store that shard");
    const leaves = leafCount(meta.size);
    if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= leaves) {
      throw new NodeServiceError("InvalidRequest", `leaf must be 0 to ${leaves - 1}`);
    }
    const [leaf, hashes] = await Promise.all([
      this.#store.readRange(
        shardId,
        leafIndex * LEAF_SIZE,
        Math.min(LEAF_SIZE, meta.size - leafIndex * LEAF_SIZE),
      ),
      this.#store.readLeafHashes(shardId),
    ]);
    const path = await merklePath(hashes, leafIndex);
    return { shardId, leafIndex, leaf, path, root: meta.root, size: meta.size };
  }
}
