import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { getBytes, isError, type Wallet } from "ethers";
import { type Chain, sendChainRequests, transactionTerms } from "./chain/contracts.ts";
import { wrapFileKey } from "./crypto/key-wrap.ts";
import { FILE_KEY_SIZE, SegmentCipher } from "./crypto/segment-cipher.ts";
import {
  CodecPool,
  defaultWorkers,
  type PieceRoots,
  type SpareWorkers,
  withSpareWorkers,
  workersFor,
} from "./data-path/codec-pool.ts";
import { SegmentPass } from "./data-path/segment-pass.ts";
import type { SegmentRing } from "./data-path/segment-ring.ts";
import { openSegmentSource, type SegmentSource } from "./data-path/segment-source.ts";
import { DstoreError, isDstoreError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { deleteShard, headShard, openShardUpload } from "./node-client.ts";
import { listNodes, type NodeView } from "./nodes.ts";
import { planPlacement, survivableLosses } from "./placement.ts";
import type { ProgressListener } from "./progress.ts";
import {
  DEFERRED_ROOT,
  RECEIPT_TYPES,
  recoverTypedSigner,
  type SignedReceipt,
} from "./protocol/eip712.ts";
import { checkCoding, defaultSegmentSize, type FileLayout } from "./protocol/layout.ts";
import { MerkleBuilder, rootOfHashes } from "./protocol/merkle.ts";
import { type FileId, newFileId, shardIdOf } from "./protocol/shard-id.ts";
import { authorizeDeletion, authorizeUpload, freshTerms } from "./signing.ts";

/** Options of {@link upload}. */
export interface UploadOptions {
  /** Data shards (default 4). */
  k?: number;
  /** Parity shards (default 2). */
  m?: number;
  /** Plaintext bytes per segment (default k MiB - 16, so pieces are exactly 1 MiB). */
  segmentSize?: number;
  /**
   * Name kept (encrypted) with the file; listed by `list()` and used by `download()`
   * (default: the file's own name when the input is a path, none for a stream; "" for
   * none).
   */
  name?: string;
  onProgress?: ProgressListener;
  /** Called with warnings for people (e.g. fewer nodes than shards). */
  onWarning?: (message: string) => void;
  /** Attempts per shard before the upload fails (default 3). */
  attempts?: number;
  /** Most ms a node may stall the transfer before it is replaced (default 30 s). */
  stallTimeout?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** What {@link upload} stored. */
export interface UploadResult {
  fileId: FileId;
  size: number;
  k: number;
  m: number;
  segmentSize: number;
  shardsRoot: string;
  /** Node id of each shard. */
  placements: number[];
  /** How many nodes can be lost, whichever they are, with the file still readable. */
  survivableNodeLosses: number;
  txHash: string;
  gasUsed: bigint;
  warnings: string[];
}

interface Target {
  index: number;
  node: NodeView;
}

/**
 * Encrypt, erasure-code and store a file, then register it on chain. The file is read
 * once: each shard's root is computed while the shard is sent, and signed to its node
 * after the last byte (a stream is sealed once into an encrypted spool first, since a node
 * that fails is replaced by another and its shard sent again). The file is registered
 * only when every shard has a verified receipt.
 *
 * @example
 * const result = await upload(chain, "./photo.jpg", { k: 4, m: 2 });
 * console.log(result.fileId);
 */
export async function upload(
  chain: Chain,
  input: string | AsyncIterable<Uint8Array>,
  options: UploadOptions = {},
): Promise<UploadResult> {
  // Hashing the shards is most of a put's coding work: every core codes (the main thread
  // only moves bytes). The workers load their code while the input is opened.
  const threads = await codecWorkersFor(input);
  return withSpareWorkers(threads, (spares) => uploadWith(spares, threads, chain, input, options));
}

/**
 * Files (given by their path) up to this size are coded on the main thread. Measured on
 * two cores with the 6-node devnet, interleaved: a 1-byte put 0.67 -> 0.55 s, 64 MiB
 * 53 -> 60 MB/s, 256 MiB 117 either way.
 */
const INLINE_LIMIT = 64 * 1024 * 1024;

/** Codec workers for a put's first pass, which hashes every shard as it codes. */
async function codecWorkersFor(input: string | AsyncIterable<Uint8Array>): Promise<number> {
  const info = typeof input === "string" ? await stat(input).catch(() => undefined) : undefined;
  return workersFor(info?.isFile() ? info.size : undefined, INLINE_LIMIT, false);
}

async function uploadWith(
  spares: SpareWorkers,
  threads: number,
  chain: Chain,
  input: string | AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<UploadResult> {
  const wallet = requireWallet(chain);
  const k = options.k ?? 4;
  const m = options.m ?? 2;
  const segmentSize = options.segmentSize ?? defaultSegmentSize(k);
  checkCoding({ size: 0, segmentSize, k, m });
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  const fileId = newFileId(wallet.address);
  const fileKey = randomBytes(FILE_KEY_SIZE);
  const cipher = new SegmentCipher(fileKey, getBytes(fileId));
  const source = await openSegmentSource(input, { cipher, segmentSize, k, m });
  const stored: { target: Target; receipt: SignedReceipt }[] = [];
  let keepShards = false;
  const layout = source.layout;
  const pool = new CodecPool(fileKey, getBytes(fileId), layout, { threads, spares });
  // The nodes are asked whether they are up while the workers start.
  const listing = listNodes(chain, { probe: true });
  listing.catch(() => {});
  let firstPass: SegmentPass | undefined;
  try {
    checkCoding(layout);
    // Once the first chain request is on its way, the wait for the nodes is filled: the
    // first segments are read and coded (their shards' roots computed) and the key is
    // wrapped (in a fresh process, loading libsecp256k1: ~15 ms).
    await sendChainRequests();
    firstPass = new SegmentPass(source, pool, true);
    const wrappedKey = wrapFileKey(
      fileKey,
      fileId,
      wallet.signingKey.publicKey,
      nameOf(options.name ?? (typeof input === "string" ? basename(input) : undefined)),
    );
    const nodes = (await listing).filter((node) => node.online);
    const plan = planPlacement(
      nodes.map((node) => ({ nodeId: node.nodeId, free: node.free ?? 0 })),
      layout.shards,
      k,
      layout.shardSize,
    );
    if (!plan.distinct) {
      warn(
        `only ${new Set(plan.placements).size} nodes for ${layout.shards} shards: the file survives the loss of ` +
          `${plan.survivableNodeLosses} node${plan.survivableNodeLosses === 1 ? "" : "s"}, not ${m}`,
      );
    }
    const byId = new Map(nodes.map((node) => [node.nodeId, node]));
    const targets = plan.placements.map((nodeId, index) => ({ index, node: byId.get(nodeId)! }));
    const session: Session = {
      chain,
      wallet,
      fileId,
      layout,
      options,
      stored,
      source,
      pool,
      firstPass,
    };
    await storeAll(session, targets, nodes);
    const roots = session.roots!;

    const placements = stored
      .sort((a, b) => a.target.index - b.target.index)
      .map((s) => s.target.node.nodeId);
    const registration = {
      fileId,
      size: layout.size,
      segmentSize,
      k,
      m,
      shardRoots: roots,
      placements,
      wrappedKey,
    };
    // The transaction's gas and fees are asked for while the nodes are asked once more
    // whether they hold every shard: two chain round trips fewer after that.
    const terms = transactionTerms(
      chain,
      chain.fileRegistry.registerFile.estimateGas(registration),
    );
    terms.catch(() => {});
    await confirmStored(stored, fileId);
    options.onProgress?.({ phase: "register", done: 0, total: 1 });
    let txHash = "";
    let gasUsed = 0n;
    try {
      const tx = await chain.fileRegistry.registerFile(registration, await terms);
      txHash = tx.hash;
      gasUsed = (await tx.wait())!.gasUsed;
    } catch (cause) {
      // Only a revert says the file is not registered. Anything else (a lost answer, a
      // timeout) may still end with the file on chain: then its shards are kept, and
      // nodes drop them on their own if it never lands.
      const registered = await chain.fileRegistry.exists(fileId).catch(() => false);
      if (!registered) {
        keepShards = !isError(cause, "CALL_EXCEPTION");
        throw new DstoreError(
          "ChainError",
          `registering the file failed: ${shortReason(cause)}` +
            (keepShards
              ? ` (transaction ${txHash || "unsent"}: its shards are kept in case it lands)`
              : ""),
          { cause },
        );
      }
    }
    options.onProgress?.({ phase: "register", done: 1, total: 1 });
    const survivable = survivableLosses(placements, k);
    return {
      fileId,
      size: layout.size,
      k,
      m,
      segmentSize,
      shardsRoot: `0x${rootOfHashes(roots.map((root) => getBytes(root))).toString("hex")}`,
      placements,
      survivableNodeLosses: survivable,
      txHash,
      gasUsed,
      warnings,
    };
  } catch (error) {
    if (!keepShards) await dropStored(chain, wallet, fileId, stored);
    throw error;
  } finally {
    // Closing the pool fails the work its workers had left; segments coded ahead for a
    // pass that never ran then give their slots back, their reads over before the source
    // closes.
    const closed = pool.close();
    closed.catch(() => {});
    await firstPass?.cancel();
    await Promise.all([source.close(), closed]);
  }
}

/** The Merkle roots of a file's shards, fed the coded segments in order. */
class ShardRoots {
  readonly #builders: MerkleBuilder[];
  readonly #ring: SegmentRing;
  readonly #layout: FileLayout;

  constructor(layout: FileLayout, ring: SegmentRing) {
    this.#layout = layout;
    this.#ring = ring;
    this.#builders = Array.from({ length: layout.shards }, () => new MerkleBuilder());
  }

  /** Take segment `index`'s pieces, in `slot`, with the subtree roots a worker made. */
  add(slot: number, index: number, roots: PieceRoots | undefined): void {
    for (let i = 0; i < this.#builders.length; i++) {
      const builder = this.#builders[i]!;
      const subtree = roots?.[i];
      // Pieces on the leaf grid arrive with their subtree root from a worker; the rest
      // (a short last segment, or every piece when coding on this thread) are hashed here.
      if (subtree && builder.isAlignedTo(subtree.height))
        builder.appendSubtree(subtree.root, subtree.height);
      else builder.update(this.#ring.piece(slot, i, this.#layout.pieceSize(index)));
    }
  }

  /** Every shard's root, 0x-hex. */
  digest(): string[] {
    return this.#builders.map((builder) => `0x${builder.digest().toString("hex")}`);
  }
}

interface Session {
  source: SegmentSource;
  pool: CodecPool;
  chain: Chain;
  wallet: Wallet;
  fileId: FileId;
  layout: FileLayout;
  /** Every shard's root, once the first pass has computed them. */
  roots?: string[];
  /** The first pass, coding since before the nodes were known; taken when it runs. */
  firstPass?: SegmentPass | undefined;
  options: UploadOptions;
  stored: { target: Target; receipt: SignedReceipt }[];
}

/**
 * Send every shard, replacing nodes that fail, until all are stored. The first pass
 * computes the roots as it sends (the nodes get each root after its shard); the next
 * sends, with the roots signed up front, what failed and the shards of nodes that say
 * roots signed after a shard do not reach them, and codes on fewer workers. `attempts`
 * bounds the passes that replace a node.
 */
async function storeAll(s: Session, targets: Target[], nodes: NodeView[]): Promise<void> {
  const attempts = s.options.attempts ?? 3;
  const failed = new Set<number>();
  // A node that says roots signed after a shard do not reach it gets its shards once the
  // first pass has computed the roots.
  let later = targets.filter((target) => target.node.rootTrailers === false);
  let pending = targets.filter((target) => target.node.rootTrailers !== false);
  // Passes that replaced a node; sending a shard again to the same node is not one.
  let attempt = 1;
  while (pending.length > 0 || later.length > 0) {
    const failures = await sendShards(s, pending);
    pending = later;
    later = [];
    await s.pool.resize(defaultWorkers());
    if (failures.length === 0) continue;
    const replaced = failures.filter((failure) => !failure.sameNode);
    if (replaced.length > 0 && attempt++ >= attempts) {
      const [first] = replaced;
      throw new DstoreError(
        "UploadFailed",
        `shard ${first!.target.index} could not be stored after ${attempts} attempts: ${first!.reason}`,
      );
    }
    for (const { target, reason } of replaced) {
      failed.add(target.node.nodeId);
      s.options.logger?.warn("node failed, replacing it", {
        nodeId: target.node.nodeId,
        shard: target.index,
        reason,
      });
    }
    for (const { target, reason } of failures.filter((failure) => failure.sameNode)) {
      s.options.logger?.warn("sending the shard to the node again, its root first", {
        nodeId: target.node.nodeId,
        shard: target.index,
        reason,
      });
    }
    const load = new Map<number, number>();
    for (const { node } of [...s.stored.map((stored) => stored.target), ...pending])
      load.set(node.nodeId, (load.get(node.nodeId) ?? 0) + 1);
    const retries = failures.map(({ target, sameNode }) => {
      if (sameNode) return target;
      const node = leastLoaded(nodes, failed, load, s.layout.shardSize);
      if (!node)
        throw new DstoreError(
          "UploadFailed",
          `no node is left to take shard ${target.index} of the file`,
        );
      load.set(node.nodeId, (load.get(node.nodeId) ?? 0) + 1);
      return { index: target.index, node };
    });
    pending = [...pending, ...retries];
  }
}

/** The usable node holding the fewest shards of this file (preferring none). */
function leastLoaded(
  nodes: NodeView[],
  failed: Set<number>,
  load: Map<number, number>,
  shardSize: number,
): NodeView | undefined {
  return nodes
    .filter((node) => !failed.has(node.nodeId) && (node.free ?? 0) >= shardSize)
    .sort((a, b) => (load.get(a.nodeId) ?? 0) - (load.get(b.nodeId) ?? 0))[0];
}

/** A shard a pass failed to store, and why. */
interface Failure {
  target: Target;
  reason: string;
  /**
   * Send the shard to the same node again, its root signed up front: the node took the
   * shard but its root, signed after it, did not get through (a reverse proxy that drops
   * HTTP trailers, or one that buffers the body and sends it with a length), or it took
   * the zero root for the root (a node from before roots signed after the shard). None of
   * these is the node's failing, and none counts as an attempt.
   */
  sameNode: boolean;
}

/** Node errors of a pass that signs roots after the shards that mean {@link Failure.sameNode}. */
const ROOT_AFTER_REFUSED = new Set(["RootTrailerMissing", "RootMismatch"]);

/**
 * One pass over the file sending the given shards in parallel (and, on the first, computing
 * every shard's root); returns the ones that failed.
 */
async function sendShards(s: Session, targets: Target[]): Promise<Failure[]> {
  const { layout, options } = s;
  const ring = s.pool.ring;
  const roots = s.roots ? undefined : new ShardRoots(layout, ring);
  const uploads = targets.map((target) => {
    const shard = {
      nodeId: target.node.nodeId,
      fileId: s.fileId,
      shardIndex: target.index,
      size: BigInt(layout.shardSize),
    };
    const terms = freshTerms();
    const root = s.roots?.[target.index] ?? DEFERRED_ROOT;
    const authorization = authorizeUpload(s.chain, s.wallet, { ...shard, root }, terms);
    const upload = openShardUpload(
      target.node.endpoint,
      shardIdOf(s.fileId, target.index),
      authorization,
      layout.shardSize,
      {
        stallTimeout: options.stallTimeout ?? 30_000,
        deferredRoot: roots !== undefined,
        upgrade: target.node.uploadUpgrade === true,
      },
    );
    /** The authorization again, naming the root the pass computed: the trailer. */
    const signRoot = () =>
      authorizeUpload(s.chain, s.wallet, { ...shard, root: s.roots![target.index]! }, terms);
    const state = { target, upload, signRoot, failed: undefined as string | undefined };
    upload.failed.catch((error: Error) => {
      state.failed = error.message;
    });
    return state;
  });
  let sent = 0;
  const total = layout.shardSize * targets.length;
  options.onProgress?.({ phase: "transfer", done: 0, total });
  // Segments whose pieces are still leaving; a few may queue, the ring bounds the rest.
  const queued: Promise<void>[] = [];
  const coded = async (slot: number, index: number, pieceRoots: PieceRoots | undefined) => {
    // Hashed before the slot can be handed back.
    roots?.add(slot, index, pieceRoots);
    const size = layout.pieceSize(index);
    // Each piece goes out straight from the ring; the slot is free again once every
    // live upload has handed its piece to the kernel (or has failed).
    const writes = uploads
      .filter((u) => u.failed === undefined)
      .map((u) =>
        Promise.race([
          u.upload.write(ring.piece(slot, u.target.index, size)),
          u.upload.failed,
        ]).catch(() => {}),
      );
    const flushed = Promise.all(writes).then(() => {
      ring.release(slot);
      sent += size * targets.length;
      options.onProgress?.({ phase: "transfer", done: Math.min(sent, total), total });
    });
    queued.push(flushed);
    if (queued.length > 2) await queued.shift();
  };
  try {
    const pass = s.firstPass ?? new SegmentPass(s.source, s.pool, roots !== undefined);
    s.firstPass = undefined;
    await pass.forEach(options.signal, coded);
    await Promise.all(queued);
  } catch (error) {
    // The source failed (or the caller aborted): cut every transfer, keep nothing.
    for (const { upload } of uploads) upload.abort("upload cancelled");
    throw error;
  }
  if (roots) s.roots = roots.digest();
  const failures: Failure[] = [];
  await Promise.all(
    uploads.map(async ({ target, upload, signRoot }) => {
      try {
        const receipt = await upload.finish(roots ? signRoot() : undefined);
        checkReceipt(s, target, receipt);
        s.stored.push({ target, receipt });
      } catch (error) {
        const name = (error as { errorName?: string }).errorName ?? "";
        const sameNode = roots !== undefined && ROOT_AFTER_REFUSED.has(name);
        failures.push({ target, reason: (error as Error).message, sameNode });
      }
    }),
  );
  options.onProgress?.({ phase: "transfer", done: total, total });
  return failures;
}

/** A receipt counts only if the node's operator signed exactly what was sent. */
function checkReceipt(s: Session, target: Target, signed: SignedReceipt): void {
  const { receipt } = signed;
  const expected = {
    nodeId: target.node.nodeId,
    fileId: s.fileId.toLowerCase(),
    shardIndex: target.index,
    size: String(s.layout.shardSize),
    root: s.roots![target.index]!.toLowerCase(),
  };
  const got = {
    nodeId: receipt.nodeId,
    fileId: receipt.fileId.toLowerCase(),
    shardIndex: receipt.shardIndex,
    size: receipt.size,
    root: receipt.root.toLowerCase(),
  };
  const signer = recoverTypedSigner(
    { chainId: s.chain.deployment.chainId, verifyingContract: s.chain.deployment.fileRegistry },
    RECEIPT_TYPES,
    { ...receipt, size: BigInt(receipt.size) },
    signed.signature,
  );
  if (
    JSON.stringify(got) !== JSON.stringify(expected) ||
    signer?.toLowerCase() !== target.node.operator.toLowerCase()
  ) {
    throw new DstoreError(
      "IntegrityError",
      `node ${target.node.nodeId} returned a receipt that does not match the shard`,
    );
  }
}

/**
 * Check every shard is still held just before registering: a node that lost one (or
 * swept it as never registered, after a very long upload) fails the upload instead of
 * the chain recording a shard nobody has.
 */
async function confirmStored(stored: { target: Target }[], fileId: FileId): Promise<void> {
  await Promise.all(
    stored.map(async ({ target }) => {
      if (
        !(await headShard(target.node.endpoint, shardIdOf(fileId, target.index)).catch(() => false))
      ) {
        throw new DstoreError(
          "UploadFailed",
          `node ${target.node.nodeId} no longer holds shard ${target.index}; nothing was registered`,
        );
      }
    }),
  );
}

/** Best effort: ask nodes to drop the shards of an upload that will not be registered. */
async function dropStored(
  chain: Chain,
  wallet: Wallet,
  fileId: FileId,
  stored: { target: Target; receipt: SignedReceipt }[],
): Promise<void> {
  await Promise.allSettled(
    stored.map(async ({ target }) => {
      const shard = { nodeId: target.node.nodeId, fileId, shardIndex: target.index };
      const header = authorizeDeletion(chain, wallet, shard);
      await deleteShard(target.node.endpoint, shardIdOf(fileId, target.index), header);
    }),
  );
}

function requireWallet(chain: Chain): Wallet {
  if (!chain.wallet) {
    throw new DstoreError(
      "ConfigError",
      "storing files needs the account's key (DSTORE_PRIVATE_KEY or --private-key)",
    );
  }
  return chain.wallet;
}

/** An empty name is no name. */
function nameOf(name: string | undefined): { name?: string } {
  return name ? { name } : {};
}

/** The revert reason or RPC message of a failed transaction, on one line. */
export function shortReason(error: unknown): string {
  if (isDstoreError(error)) return error.message;
  const e = error as {
    shortMessage?: string;
    reason?: string;
    message?: string;
    revert?: { name?: string };
  };
  return e.revert?.name ?? e.reason ?? e.shortMessage ?? e.message ?? String(error);
}
