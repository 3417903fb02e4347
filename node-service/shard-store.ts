import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  ALIGNED_BLOCK_SIZE,
  AlignedBlocksExhausted,
  alignedBlocks,
  alignUp,
  DIRECT_IO_ALIGNMENT,
  LARGE_ALIGNED_BLOCK_SIZE,
  openMaybeDirect,
} from "../client/data-path/aligned-blocks.ts";
import { FileWriter } from "../client/data-path/file-writer.ts";
import { syncDir } from "../client/data-path/sync-dir.ts";
import { createLogger, type Logger } from "../client/logger.ts";
import { HASH_SIZE, leafCount } from "../client/protocol/merkle.ts";
import { isShardId, type ShardId } from "../client/protocol/shard-id.ts";
import { NodeServiceError } from "./errors.ts";
import { forEachChunk } from "./for-each-chunk.ts";
import { MerkleHasher } from "./merkle-hasher.ts";

/** What a node records about each shard it keeps. */
export interface ShardMeta {
  shardId: ShardId;
  fileId: string;
  shardIndex: number;
  /** Bytes. */
  size: number;
  /** SHA-256 Merkle root (0x-hex). */
  root: string;
  /** Address that authorized the upload; may delete it until the file is on chain. */
  uploader: string;
  /** Unix milliseconds when it was stored. */
  storedAt: number;
}

/** Options of {@link ShardStore.open}. */
export interface ShardStoreOptions {
  /** Bytes the operator offers; uploads beyond it are refused with 507. */
  capacity: number;
  /** Largest single shard accepted, in bytes. */
  maxShardSize: number;
  /**
   * Write and read shard bytes bypassing the page cache where the system allows it
   * (default true): a node's shards are cold data, and the page cache would only cost a
   * copy of every byte (and, on many virtual machines, a fault per new page).
   */
  directIo?: boolean;
  logger?: Logger;
}

/**
 * A body that places its bytes in the store's writer itself, read straight into its
 * blocks (an upgraded upload's connection): `fill` takes exactly `size` bytes, or fails.
 */
export interface PlacedBody {
  fill(writer: FileWriter, size: number): Promise<void>;
}

/** An upload's body: a request's stream, chunks, or a {@link PlacedBody}. */
export type ShardBody = AsyncIterable<Uint8Array> | NodeJS.ReadableStream | PlacedBody;

/** Space held for an upload in flight until it is stored or abandoned. */
export interface Reservation {
  readonly size: number;
  release(): void;
}

const LEAF_BATCH = 2048;
/** Most ms a GET may wait for the client to take the bytes already sent. */
const SEND_STALL_TIMEOUT = 60_000;

/**
 * Blocks a shard's sending reads into in turn: up to this many reads run ahead of the
 * socket (of 512 KiB blocks; of large ones, half as many).
 */
const SEND_DEPTH = 4;

/**
 * Transfers (uploads and sends) a node runs with large blocks (2 MiB reads and writes
 * instead of 512 KiB: a third to half less CPU per byte) before the next ones take small
 * ones, so a node busy with many keeps the memory they hold bounded: under 64 uploads at
 * once a node's peak RSS was ~430 MiB with large blocks for all, ~240 with small ones.
 */
const LARGE_BLOCK_TRANSFERS = 8;

/**
 * The shards a node keeps, on disk under its data directory only:
 * `shards/<2 hex>/<id>` (bytes), `<id>.leaves` (the Merkle leaf hashes, for proofs) and
 * `<id>.json` (its {@link ShardMeta}, written last: a shard without it does not exist).
 * Uploads stream to `tmp/`, are hashed on the way, fsynced, renamed into place and the
 * directory fsynced, so a crash never leaves a torn shard. The index lives in memory and
 * is rebuilt from the directory, checked against the files, at every start.
 */
export class ShardStore {
  readonly #dir: string;
  readonly #options: ShardStoreOptions;
  readonly #log: Logger;
  /** Whether shard bytes may bypass the page cache. */
  readonly #direct: boolean;
  readonly #shards = new Map<ShardId, ShardMeta>();
  readonly #writing = new Set<ShardId>();
  readonly #hasher = new MerkleHasher();
  /** Uploads being received and shards being sent. */
  #transfers = 0;
  #used = 0;
  #reserved = 0;

  private constructor(dir: string, options: ShardStoreOptions) {
    this.#dir = dir;
    this.#options = options;
    this.#log = options.logger ?? createLogger("node-service:store");
    this.#direct = options.directIo ?? true;
  }

  /** Open (or create) the store in `dataDir`, dropping leftovers of interrupted writes. */
  static async open(dataDir: string, options: ShardStoreOptions): Promise<ShardStore> {
    const store = new ShardStore(dataDir, options);
    await store.#load();
    return store;
  }

  /** Stop the store's worker; uploads still running fail. */
  async close(): Promise<void> {
    await this.#hasher.close();
  }

  /** Bytes offered. */
  get capacity(): number {
    return this.#options.capacity;
  }
  /** Bytes held by stored shards. */
  get used(): number {
    return this.#used;
  }
  /** Bytes held for uploads in flight. */
  get reserved(): number {
    return this.#reserved;
  }
  /** Number of stored shards. */
  get count(): number {
    return this.#shards.size;
  }

  /** The shard's record, if the node keeps it. */
  get(shardId: ShardId): ShardMeta | undefined {
    return this.#shards.get(shardId);
  }

  /** Every stored shard. */
  list(): IterableIterator<ShardMeta> {
    return this.#shards.values();
  }

  /** Path of a stored shard's bytes; the id must be valid. */
  dataPath(shardId: ShardId): string {
    return join(this.#dir, "shards", this.relativePath(shardId));
  }

  /** Folder all shards live under. */
  get shardsRoot(): string {
    return join(this.#dir, "shards");
  }

  /** Path of a stored shard's bytes relative to {@link shardsRoot}. */
  relativePath(shardId: ShardId): string {
    assertShardId(shardId);
    return join(shardId.slice(0, 2), shardId);
  }

  /** Hold `size` bytes for an upload, or throw `InsufficientStorage`. */
  reserve(size: number): Reservation {
    if (size > this.#options.maxShardSize) {
      throw new NodeServiceError(
        "ShardTooLarge",
        `shard of ${size} bytes is above this node's limit of ${this.#options.maxShardSize}`,
      );
    }
    if (this.#used + this.#reserved + size > this.#options.capacity) {
      throw new NodeServiceError("InsufficientStorage", "this node has no room for the shard");
    }
    this.#reserved += size;
    let released = false;
    return {
      size,
      release: () => {
        if (!released) this.#reserved -= size;
        released = true;
      },
    };
  }

  /**
   * Stream a shard to disk and keep it only if it has exactly `meta.size` bytes and the
   * Merkle root `meta.root`, or, given `rootAfter`, the root it names once the body has
   * ended (a root the client signs after sending the shard). Nothing of a failed write
   * stays behind.
   */
  async write(
    meta: Omit<ShardMeta, "storedAt">,
    body: ShardBody,
    reservation: Reservation,
    rootAfter?: () => Promise<string>,
  ): Promise<ShardMeta> {
    const { shardId, size } = meta;
    assertShardId(shardId);
    if (this.#writing.has(shardId)) {
      reservation.release();
      throw new NodeServiceError("ShardExists", "an upload of this shard is already in progress");
    }
    if (this.#shards.has(shardId)) {
      reservation.release();
      throw new NodeServiceError("ShardExists", "this node already stores that shard");
    }
    this.#writing.add(shardId);
    const tmp = join(this.#dir, "tmp", `${shardId}.${randomBytes(6).toString("hex")}`);
    const dataTmp = `${tmp}.part`;
    const leavesTmp = `${tmp}.leaves.part`;
    const metaTmp = `${tmp}.json.part`;
    try {
      this.#transfers++;
      const root = await this.#receive(body, size, dataTmp, leavesTmp).finally(() => {
        this.#transfers--;
      });
      const expected = rootAfter ? await rootAfter() : meta.root.toLowerCase();
      if (root !== expected) {
        throw new NodeServiceError(
          "RootMismatch",
          `the shard's Merkle root is ${root}, not ${expected}`,
        );
      }
      const stored: ShardMeta = { ...meta, root, storedAt: Date.now() };
      await writeSynced(metaTmp, JSON.stringify(stored));
      const dir = this.#shardDir(shardId);
      await mkdir(dir, { recursive: true });
      const final = join(dir, shardId);
      await rename(dataTmp, final);
      await rename(leavesTmp, `${final}.leaves`);
      await rename(metaTmp, `${final}.json`);
      await syncDir(dir);
      this.#shards.set(shardId, stored);
      this.#used += size;
      return stored;
    } catch (error) {
      await Promise.all([dataTmp, leavesTmp, metaTmp].map((path) => rm(path, { force: true })));
      if ((error as NodeJS.ErrnoException).code === "ENOSPC") {
        throw new NodeServiceError("InsufficientStorage", "the node's disk is full", {
          cause: error,
        });
      }
      throw busyOr(error);
    } finally {
      this.#writing.delete(shardId);
      reservation.release();
    }
  }

  /** Drop a shard (no-op if absent). */
  async remove(shardId: ShardId): Promise<boolean> {
    assertShardId(shardId);
    const meta = this.#shards.get(shardId);
    if (!meta) return false;
    this.#shards.delete(shardId);
    this.#used -= meta.size;
    const final = this.dataPath(shardId);
    // The record goes first: from then on the shard does not exist, even after a crash.
    await rm(`${final}.json`, { force: true });
    await Promise.all([rm(final, { force: true }), rm(`${final}.leaves`, { force: true })]);
    await syncDir(this.#shardDir(shardId));
    return true;
  }

  /** The shard's Merkle leaf hashes, concatenated (32 bytes each). */
  readLeafHashes(shardId: ShardId): Promise<Buffer> {
    assertShardId(shardId);
    return readFile(`${this.dataPath(shardId)}.leaves`);
  }

  /**
   * Send bytes `start`..`end` (inclusive) of a stored shard to `out`, read (bypassing the
   * page cache where it can) into a few page-aligned blocks in turn ({@link SEND_DEPTH}): no
   * allocation per chunk, and a block is refilled as soon as the socket has taken what it
   * held. Stops early if `out` is destroyed (the client left).
   */
  async sendRange(
    shardId: ShardId,
    start: number,
    end: number,
    out: NodeJS.WritableStream & { destroyed: boolean; destroy(): void },
  ): Promise<void> {
    const { handle, direct } = await openMaybeDirect(
      this.dataPath(shardId),
      constants.O_RDONLY,
      this.#direct,
    );
    // A write to a socket that is already gone may never call back: stop at 'close'. A
    // client that stops reading holds its blocks: after a minute it is cut off.
    let onClose = () => {};
    const closed = new Promise<void>((_, reject) => {
      onClose = () =>
        reject(new NodeServiceError("RequestAborted", "the client closed the connection"));
      out.once("close", onClose);
    });
    closed.catch(() => {});
    const blocks: Buffer[] = [];
    // Per block: the read into it, then the socket's taking of what it read.
    const reads: (Promise<number> | undefined)[] = [];
    const inFlight: (Promise<void> | undefined)[] = [];
    this.#transfers++;
    const blockSize = this.#blockSize();
    const depth = blockSize === ALIGNED_BLOCK_SIZE ? SEND_DEPTH : SEND_DEPTH / 2;
    try {
      for (let i = 0; i < depth; i++) blocks.push(takeBlock(blockSize));
      // Direct reads start on an aligned offset and read whole aligned lengths (the last
      // one stops at the end of the file): what lies outside the range is not sent.
      const first = direct ? start - (start % DIRECT_IO_ALIGNMENT) : start;
      let planned = first;
      const lengths: number[] = [];
      // Block `turn` is read again as soon as the socket has taken what it held: reads
      // run ahead of the socket, several at a time, where one read after another would
      // leave the node waiting on the disk's latency for every block.
      const plan = (turn: number) => {
        if (planned > end) return;
        const wanted = end + 1 - planned;
        const length = Math.min(blockSize, direct ? alignUp(wanted) : wanted);
        const position = planned;
        planned += length;
        lengths[turn] = Math.min(length, wanted);
        const read = (async () => {
          await inFlight[turn];
          return (await handle.read(blocks[turn]!, 0, length, position)).bytesRead;
        })();
        read.catch(() => {});
        reads[turn] = read;
      };
      for (let turn = 0; turn < depth; turn++) plan(turn);
      let skip = start - first;
      for (let turn = 0; reads[turn] && !out.destroyed; turn = (turn + 1) % depth) {
        const bytesRead = await reads[turn]!;
        reads[turn] = undefined;
        // Only the end of the file reads short; before the range's end it is a lost shard.
        if (bytesRead < lengths[turn]!)
          throw new NodeServiceError("Internal", "the shard file is shorter than its record");
        const chunk = blocks[turn]!.subarray(skip, lengths[turn]);
        skip = 0;
        const written = new Promise<void>((resolve, reject) => {
          const stalled = setTimeout(
            () => reject(new NodeServiceError("RequestAborted", "the client stopped reading")),
            SEND_STALL_TIMEOUT,
          ).unref();
          out.write(chunk, (error) => {
            clearTimeout(stalled);
            if (error) reject(error);
            else resolve();
          });
        });
        inFlight[turn] = Promise.race([written, closed]);
        inFlight[turn]!.catch(() => {});
        plan(turn);
      }
      await Promise.all(inFlight);
    } catch (error) {
      // The response is broken: end it, so that no write still holds a block below.
      out.destroy();
      throw error;
    } finally {
      // No block goes back while a read may still fill it or a write still send it.
      await Promise.allSettled([...reads, ...inFlight]);
      out.off("close", onClose);
      for (const block of blocks) alignedBlocks.give(block);
      this.#transfers--;
      await handle.close();
    }
  }

  /** Large blocks while the node has few transfers, else small ones. */
  #blockSize(): number {
    return this.#transfers <= LARGE_BLOCK_TRANSFERS ? LARGE_ALIGNED_BLOCK_SIZE : ALIGNED_BLOCK_SIZE;
  }

  /** Read `length` bytes of a stored shard at `offset`. */
  async readRange(shardId: ShardId, offset: number, length: number): Promise<Buffer> {
    const handle = await open(this.dataPath(shardId), "r");
    try {
      const out = Buffer.alloc(length);
      const { bytesRead } = await handle.read(out, 0, length, offset);
      return out.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async #receive(
    body: ShardBody,
    size: number,
    dataTmp: string,
    leavesTmp: string,
  ): Promise<string> {
    const leaves = await open(leavesTmp, "wx");
    try {
      let batch = Buffer.allocUnsafe(LEAF_BATCH * HASH_SIZE);
      let filled = 0;
      let leafWrites: Promise<void> = Promise.resolve();
      const flushLeaves = () => {
        if (filled === 0) return;
        const chunk = batch.subarray(0, filled);
        batch = Buffer.allocUnsafe(LEAF_BATCH * HASH_SIZE);
        filled = 0;
        // One batch after the other, each written whole (writeFile retries short writes).
        // A failure (ENOSPC) is awaited below; the no-op catch keeps it from being an
        // unhandled rejection, which would kill the node, when the body fails first.
        leafWrites = leafWrites.then(() => leaves.writeFile(chunk));
        leafWrites.catch(() => {});
      };
      const addLeaves = (hashes: Buffer) => {
        for (let at = 0; at < hashes.length; ) {
          const take = hashes.copy(batch, filled, at);
          filled += take;
          at += take;
          if (filled === batch.length) flushLeaves();
        }
      };
      // The bytes are hashed block by block in the hasher's worker, in order, as the
      // FileWriter sends each block to the disk; the main thread only moves them.
      const job = this.#hasher.job();
      let received = 0;
      const data = await FileWriter.create(dataTmp, {
        direct: this.#direct,
        blockSize: this.#blockSize(),
        onBlock: async (bytes) => addLeaves(await job.update(bytes)),
      });
      let root: Buffer;
      try {
        if ("fill" in body) {
          await body.fill(data, size);
          received = data.length;
        } else {
          await forEachChunk(body, (chunk) => {
            received += chunk.length;
            if (received > size) {
              throw new NodeServiceError(
                "BodyTooLarge",
                `the body is longer than the ${size} bytes signed for`,
              );
            }
            return data.push(chunk);
          });
        }
        if (received !== size) {
          throw new NodeServiceError(
            "SizeMismatch",
            `received ${received} bytes, the shard has ${size}`,
          );
        }
        await data.finish();
        const last = await job.digest();
        addLeaves(last.leaves);
        root = last.root;
      } catch (error) {
        job.drop();
        throw error;
      } finally {
        await data.abort();
      }
      flushLeaves();
      await leafWrites;
      await leaves.sync();
      return `0x${root.toString("hex")}`;
    } finally {
      await leaves.close().catch(() => {});
    }
  }

  #shardDir(shardId: ShardId): string {
    return join(this.#dir, "shards", shardId.slice(0, 2));
  }

  async #load(): Promise<void> {
    await rm(join(this.#dir, "tmp"), { recursive: true, force: true });
    await mkdir(join(this.#dir, "tmp"), { recursive: true });
    await mkdir(join(this.#dir, "shards"), { recursive: true });
    let dropped = 0;
    for (const prefix of await readdir(join(this.#dir, "shards"))) {
      const dir = join(this.#dir, "shards", prefix);
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      const names = await readdir(dir);
      const byId = Map.groupBy(names, (name) => name.split(".")[0]!);
      for (const [id, files] of byId) {
        const whole = isShardId(id) && id.startsWith(prefix) && (await this.#check(dir, id, names));
        const expected = [id, `${id}.json`, `${id}.leaves`];
        for (const name of files) {
          if (whole && expected.includes(name)) continue;
          await rm(join(dir, name), { force: true });
          dropped++;
        }
      }
    }
    if (dropped > 0)
      this.#log.warn("dropped files of unfinished or damaged shards", { files: dropped });
    this.#log.info("store opened", { shards: this.#shards.size, used: this.#used });
  }

  /** Whether shard `id` in `dir` is whole: record, bytes and leaf hashes all agree. */
  async #check(dir: string, id: string, names: readonly string[]): Promise<boolean> {
    if (![id, `${id}.json`, `${id}.leaves`].every((name) => names.includes(name))) return false;
    try {
      const meta = JSON.parse(await readFile(join(dir, `${id}.json`), "utf8")) as ShardMeta;
      const [bytes, leaves] = await Promise.all([
        stat(join(dir, id)),
        stat(join(dir, `${id}.leaves`)),
      ]);
      if (meta.shardId !== id || bytes.size !== meta.size) return false;
      if (leaves.size !== leafCount(meta.size) * HASH_SIZE) return false;
      this.#shards.set(id, meta);
      this.#used += meta.size;
      return true;
    } catch {
      return false;
    }
  }
}

/** A block for direct I/O, or 503 when every block is in use (too many transfers at once). */
function takeBlock(size: number): Buffer {
  try {
    return alignedBlocks.take(size);
  } catch (error) {
    throw busyOr(error);
  }
}

/** `error`, or a 503 ServiceUnavailable if it says every direct I/O block is in use. */
function busyOr(error: unknown): unknown {
  return error instanceof AlignedBlocksExhausted
    ? new NodeServiceError("ServiceUnavailable", "the node is serving too many transfers at once", {
        cause: error,
      })
    : error;
}

function assertShardId(shardId: string): asserts shardId is ShardId {
  if (!isShardId(shardId))
    throw new NodeServiceError("InvalidShardId", "a shard id is 64 lowercase hex characters");
}

async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
