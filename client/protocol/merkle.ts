import { hash } from "node:crypto";

/** Bytes per Merkle leaf of a shard. */
export const LEAF_SIZE = 4096;

/** Bytes of one SHA-256 hash. */
export const HASH_SIZE = 32;

const sha256 = (data: Uint8Array): Buffer => hash("sha256", data, "buffer");

/** sha256(left || right): the parent of two nodes. */
export function parentHash(left: Uint8Array, right: Uint8Array): Buffer {
  const both = Buffer.allocUnsafe(2 * HASH_SIZE);
  both.set(left, 0);
  both.set(right, HASH_SIZE);
  return sha256(both);
}

/** ZERO[h] is the root of an all-padding subtree of height h (ZERO[0] is 32 zero bytes). */
const ZERO: Buffer[] = [Buffer.alloc(HASH_SIZE)];
function zeroHash(height: number): Buffer {
  while (ZERO.length <= height) {
    const below = ZERO[ZERO.length - 1]!;
    ZERO.push(parentHash(below, below));
  }
  return ZERO[height]!;
}

/** Height of a tree over `leaves` leaves: ceil(log2(leaves)), 0 for one leaf. */
export function treeHeight(leaves: number): number {
  let height = 0;
  while (2 ** height < leaves) height++;
  return height;
}

/** Number of 4 KiB leaves of a shard of `size` bytes (an empty shard has one empty leaf). */
export function leafCount(size: number): number {
  return Math.max(1, Math.ceil(size / LEAF_SIZE));
}

/**
 * Streaming SHA-256 Merkle root over fixed 4 KiB leaves, the tree dstore uses for shards.
 * Leaves are sha256(leaf bytes); missing leaves up to the next power of two are zero
 * hashes; parents are sha256(left || right). Memory is O(log n) whatever the input size.
 *
 * @example
 * const builder = new MerkleBuilder();
 * for await (const chunk of stream) builder.update(chunk);
 * const root = builder.digest();
 */
export class MerkleBuilder {
  /** Complete subtrees, left to right; heights strictly decrease. */
  readonly #stack: { height: number; hash: Buffer }[] = [];
  readonly #partial = Buffer.allocUnsafe(LEAF_SIZE);
  #partialLength = 0;
  #leaves = 0;
  #bytes = 0;
  readonly #onLeaf: ((leafHash: Buffer) => void) | undefined;

  /** @param onLeaf Called with every leaf hash in order (a node keeps them for proofs). */
  constructor(onLeaf?: (leafHash: Buffer) => void) {
    this.#onLeaf = onLeaf;
  }

  /** Bytes fed so far. */
  get size(): number {
    return this.#bytes;
  }

  /** Feed the next bytes. */
  update(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    let offset = 0;
    if (this.#partialLength > 0) {
      const take = Math.min(LEAF_SIZE - this.#partialLength, chunk.length);
      this.#partial.set(chunk.subarray(0, take), this.#partialLength);
      this.#partialLength += take;
      offset = take;
      if (this.#partialLength < LEAF_SIZE) return;
      this.#pushLeaf(sha256(this.#partial));
      this.#partialLength = 0;
    }
    while (chunk.length - offset >= LEAF_SIZE) {
      this.#pushLeaf(sha256(chunk.subarray(offset, offset + LEAF_SIZE)));
      offset += LEAF_SIZE;
    }
    if (offset < chunk.length) {
      this.#partial.set(chunk.subarray(offset), 0);
      this.#partialLength = chunk.length - offset;
    }
  }

  /** Whether a subtree of 2^height leaves can be appended now (see {@link appendSubtree}). */
  isAlignedTo(height: number): boolean {
    return this.#partialLength === 0 && this.#leaves % 2 ** height === 0;
  }

  /**
   * Append a complete subtree of 2^height full leaves by its root (computed elsewhere, e.g.
   * in a worker). The builder must sit at a multiple of 2^height leaves, with no partial
   * leaf pending.
   */
  appendSubtree(root: Buffer, height: number): void {
    if (!this.isAlignedTo(height)) {
      throw new RangeError("a subtree must start at a leaf boundary aligned to its size");
    }
    this.#bytes += 2 ** height * LEAF_SIZE;
    this.#leaves += 2 ** height;
    this.#push(root, height);
  }

  /** The root over everything fed. The builder must not be used afterwards. */
  digest(): Buffer {
    if (this.#partialLength > 0 || this.#leaves === 0) {
      this.#pushLeaf(sha256(this.#partial.subarray(0, this.#partialLength)));
      this.#partialLength = 0;
    }
    let node: Buffer | undefined;
    let height = 0;
    for (let i = this.#stack.length - 1; i >= 0; i--) {
      const entry = this.#stack[i]!;
      if (node === undefined) {
        node = entry.hash;
        height = entry.height;
        continue;
      }
      while (height < entry.height) node = parentHash(node, zeroHash(height++));
      node = parentHash(entry.hash, node);
      height++;
    }
    const full = treeHeight(this.#leaves);
    while (height < full) node = parentHash(node!, zeroHash(height++));
    return node!;
  }

  #pushLeaf(leafHash: Buffer): void {
    this.#onLeaf?.(leafHash);
    this.#leaves++;
    this.#push(leafHash, 0);
  }

  #push(root: Buffer, at: number): void {
    let node = root;
    let height = at;
    for (let top = this.#stack.at(-1); top?.height === height; top = this.#stack.at(-1)) {
      this.#stack.pop();
      node = parentHash(top.hash, node);
      height++;
    }
    this.#stack.push({ height, hash: node });
  }
}

/** The Merkle root of `data` in one call (see {@link MerkleBuilder}). */
export function merkleRoot(data: Uint8Array): Buffer {
  const builder = new MerkleBuilder();
  builder.update(data);
  return builder.digest();
}

/**
 * Root over already-hashed leaves, padded with zero hashes to a power of two: the tree of
 * shard roots whose root (`shardsRoot`) FileRegistry keeps. Matches `MerkleSha256.root`.
 */
export function rootOfHashes(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  let level: Buffer[] = leaves.map((leaf) => Buffer.from(leaf));
  let height = 0;
  const full = treeHeight(leaves.length);
  while (height < full) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(parentHash(level[i]!, level[i + 1] ?? zeroHash(height)));
    }
    level = next;
    height++;
  }
  return level[0]!;
}

/**
 * The sibling path of leaf `index` in the tree over `leafHashes` (concatenated 32-byte
 * hashes), from the leaf level up. O(n) hashing; `yieldEvery` lets a server give the
 * event loop back between batches.
 */
export async function merklePath(
  leafHashes: Uint8Array,
  index: number,
  yieldEvery = 4096,
): Promise<Buffer[]> {
  const count = leafHashes.length / HASH_SIZE;
  if (!Number.isInteger(count) || index < 0 || index >= count) {
    throw new RangeError(`leaf ${index} is outside a tree of ${count} leaves`);
  }
  let level: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    level.push(Buffer.from(leafHashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)));
  }
  const path: Buffer[] = [];
  const full = treeHeight(count);
  let position = index;
  let work = 0;
  for (let height = 0; height < full; height++) {
    path.push(level[position ^ 1] ?? zeroHash(height));
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(parentHash(level[i]!, level[i + 1] ?? zeroHash(height)));
      if (++work % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    level = next;
    position >>= 1;
  }
  return path;
}

/** The root implied by a leaf hash at `index` and its sibling path (leaf level first). */
export function rootFromPath(
  leafHash: Uint8Array,
  index: number,
  path: readonly Uint8Array[],
): Buffer {
  let node: Buffer = Buffer.from(leafHash);
  let position = index;
  for (const sibling of path) {
    node = position % 2 === 0 ? parentHash(node, sibling) : parentHash(sibling, node);
    position = Math.floor(position / 2);
  }
  return node;
}

/** SHA-256 of one leaf's bytes, as the tree hashes it. */
export function leafHash(leaf: Uint8Array): Buffer {
  return sha256(leaf);
}

/**
 * The root of `data` if it is exactly 2^h full leaves (a piece aligned to the shard's leaf
 * grid), with h; undefined otherwise.
 */
export function alignedSubtreeRoot(data: Uint8Array): { root: Buffer; height: number } | undefined {
  const leaves = data.length / LEAF_SIZE;
  if (!Number.isInteger(leaves) || leaves < 1 || (leaves & (leaves - 1)) !== 0) return undefined;
  return { root: merkleRoot(data), height: treeHeight(leaves) };
}
