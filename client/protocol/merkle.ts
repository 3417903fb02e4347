import { hash } from "node:crypto";
import { optionalBinding } from "../optional-binding.ts";

/** Bytes per Merkle leaf of a shard. */
export const LEAF_SIZE = 4096;

/** Bytes of one SHA-256 hash. */
export const HASH_SIZE = 32;

const sha256 = (data: Uint8Array): Buffer => hash("sha256", data, "buffer");

/**
 * Write sha256(`data`) into `out` at `offset`. The digest comes back as a "binary"
 * (latin1) string, a young-generation V8 object, instead of a Buffer with its own backing
 * store: hashing millions of leaves and parents then allocates nothing outside the JS
 * heap, which cuts the cost of a 64-byte parent hash by half or more and spares the
 * garbage collector (a node hashing shards spent as long in GC as in SHA-256 before).
 */
function sha256Into(data: Uint8Array, out: Buffer, offset: number): void {
  out.write(hash("sha256", data, "binary"), offset, HASH_SIZE, "binary");
}

/** What dstore calls of `@chainsafe/hashtree` (prysm's hashtree: SHA-NI, AVX-512, NEON). */
interface Hashtree {
  /** sha256 of each 64-byte block of `input`, side by side into `output`. */
  hashInto(input: Uint8Array, output: Uint8Array): void;
}

/**
 * hashtree's native binding, undefined where it does not load (no prebuilt one for the
 * platform) or `DSTORE_NATIVE_HASHTREE=0`. It hashes a level's parents in one call, many
 * at once: ~0.05 µs a parent here, against ~0.4 µs for a call to Node's SHA-256 each.
 */
const hashtree = optionalBinding<Hashtree>("@chainsafe/hashtree", "DSTORE_NATIVE_HASHTREE");

/** The parents of `count` pairs side by side in `input` (64 bytes each), into `output`. */
function hashPairs(input: Buffer, output: Buffer, count: number): void {
  const native = hashtree();
  if (native) {
    native.hashInto(
      input.subarray(0, count * 2 * HASH_SIZE),
      output.subarray(0, count * HASH_SIZE),
    );
    return;
  }
  for (let i = 0; i < count; i++) {
    sha256Into(input.subarray(i * 2 * HASH_SIZE, (i + 1) * 2 * HASH_SIZE), output, i * HASH_SIZE);
  }
}

/** Whether `@chainsafe/hashtree` hashes the parents (for the tests). */
export function hasNativeHashtree(): boolean {
  return hashtree() !== undefined;
}

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

/** Most complete subtrees a builder holds at once: one per bit of the leaf count. */
const MAX_STACK = 64;

/**
 * Leaves a builder hashes before their parents, which it then hashes a level at a time
 * (see {@link hashPairs}): a subtree of 2^BATCH_HEIGHT leaves, 1 MiB of data.
 */
const BATCH_HEIGHT = 8;
const BATCH = 2 ** BATCH_HEIGHT;

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
  /**
   * Roots of the complete subtrees so far, left to right, 32 bytes each and side by side,
   * so two neighbours are already their parent's input; heights strictly decrease.
   */
  readonly #stack = Buffer.alloc(MAX_STACK * HASH_SIZE);
  readonly #heights: number[] = [];
  readonly #partial = Buffer.allocUnsafe(LEAF_SIZE);
  #partialLength = 0;
  /**
   * The hashes of the leaves since the last multiple of {@link BATCH} leaves, while they
   * are the start of a batch; `#scratch` takes every other level of its parents.
   */
  readonly #batch = Buffer.allocUnsafe(BATCH * HASH_SIZE);
  readonly #scratch = Buffer.allocUnsafe((BATCH / 2) * HASH_SIZE);
  #batched = 0;
  #leaves = 0;
  #bytes = 0;
  readonly #onLeaf: ((leafHash: Buffer) => void) | undefined;

  /**
   * @param onLeaf Called with every leaf hash in order (a node keeps them for proofs). The
   *   buffer is the builder's own and valid only during the call: copy what you keep.
   */
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
      this.#pushLeaf(this.#partial);
      this.#partialLength = 0;
    }
    while (chunk.length - offset >= LEAF_SIZE) {
      this.#pushLeaf(chunk.subarray(offset, offset + LEAF_SIZE));
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
  appendSubtree(root: Uint8Array, height: number): void {
    if (!this.isAlignedTo(height)) {
      throw new RangeError("a subtree must start at a leaf boundary aligned to its size");
    }
    this.#unbatch();
    this.#bytes += 2 ** height * LEAF_SIZE;
    this.#leaves += 2 ** height;
    this.#stack.set(root, this.#heights.length * HASH_SIZE);
    this.#push(height);
  }

  /** The root over everything fed. The builder must not be used afterwards. */
  digest(): Buffer {
    if (this.#partialLength > 0 || this.#leaves === 0) {
      this.#pushLeaf(this.#partial.subarray(0, this.#partialLength));
      this.#partialLength = 0;
    }
    this.#unbatch();
    // Fold the subtrees from the right, padding each with zero subtrees up to its left
    // neighbour's height, then the whole up to the full tree's height.
    let top = this.#heights.length - 1;
    let node = this.#entry(top);
    let height = this.#heights[top]!;
    for (top--; top >= 0; top--) {
      while (height < this.#heights[top]!) node = parentHash(node, zeroHash(height++));
      node = parentHash(this.#entry(top), node);
      height++;
    }
    const full = treeHeight(this.#leaves);
    while (height < full) node = parentHash(node, zeroHash(height++));
    return Buffer.from(node);
  }

  #entry(index: number): Buffer {
    return this.#stack.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }

  #pushLeaf(leaf: Uint8Array): void {
    if (this.#batched > 0 || this.#leaves % BATCH === 0) {
      const at = this.#batched * HASH_SIZE;
      sha256Into(leaf, this.#batch, at);
      this.#onLeaf?.(this.#batch.subarray(at, at + HASH_SIZE));
      this.#leaves++;
      if (++this.#batched === BATCH) this.#foldBatch();
      return;
    }
    const at = this.#heights.length;
    sha256Into(leaf, this.#stack, at * HASH_SIZE);
    this.#onLeaf?.(this.#entry(at));
    this.#leaves++;
    this.#push(0);
  }

  /** A full batch becomes one subtree: its parents hashed a level at a time. */
  #foldBatch(): void {
    let from = this.#batch;
    let to = this.#scratch;
    for (let count = BATCH / 2; count >= 1; count /= 2) {
      hashPairs(from, to, count);
      [from, to] = [to, from];
    }
    this.#stack.set(from.subarray(0, HASH_SIZE), this.#heights.length * HASH_SIZE);
    this.#batched = 0;
    this.#push(BATCH_HEIGHT);
  }

  /** The leaves of an unfinished batch, onto the stack one by one. */
  #unbatch(): void {
    for (let i = 0; i < this.#batched; i++) {
      this.#stack.set(
        this.#batch.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE),
        this.#heights.length * HASH_SIZE,
      );
      this.#push(0);
    }
    this.#batched = 0;
  }

  /** Take the hash just written at the top of the stack as a subtree of `height`. */
  #push(height: number): void {
    const heights = this.#heights;
    let top = heights.length;
    let h = height;
    // Two neighbours of equal height become their parent, written where the left one was.
    while (top > 0 && heights[top - 1] === h) {
      top--;
      const at = top * HASH_SIZE;
      sha256Into(this.#stack.subarray(at, at + 2 * HASH_SIZE), this.#stack, at);
      heights.pop();
      h++;
    }
    heights.push(h);
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
 * hashes), from the leaf level up. O(n) hashing, a level's parents `yieldEvery` at a time
 * ({@link hashPairs}); between two such batches a server gets its event loop back.
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
  // Each level is hashed into the other buffer; an odd level gets a zero hash at its end
  // as the last parent's right child.
  let level = Buffer.allocUnsafe((count + 1) * HASH_SIZE);
  let parents = Buffer.allocUnsafe((Math.ceil(count / 2) + 1) * HASH_SIZE);
  level.set(leafHashes);
  const path: Buffer[] = [];
  let width = count;
  let position = index;
  for (let height = 0; height < treeHeight(count); height++) {
    if (width % 2 === 1) level.set(zeroHash(height), width * HASH_SIZE);
    const sibling = (position ^ 1) * HASH_SIZE;
    path.push(Buffer.from(level.subarray(sibling, sibling + HASH_SIZE)));
    width = Math.ceil(width / 2);
    for (let i = 0; i < width; i += yieldEvery) {
      const batch = Math.min(yieldEvery, width - i);
      hashPairs(level.subarray(2 * i * HASH_SIZE), parents.subarray(i * HASH_SIZE), batch);
      if (batch === yieldEvery) await new Promise((resolve) => setImmediate(resolve));
    }
    [level, parents] = [parents, level];
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
