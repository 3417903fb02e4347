import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, open, rename, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { getBytes } from "ethers";
import type { Chain } from "./chain/contracts.ts";
import { type FileRecord, readOwnedFile } from "./chain/files.ts";
import { unwrapFileKey } from "./crypto/key-wrap.ts";
import { SegmentCipher } from "./crypto/segment-cipher.ts";
import { copyInto } from "./data-path/buffer-memory.ts";
import { CodecPool, workersFor } from "./data-path/codec-pool.ts";
import { FileWriter } from "./data-path/file-writer.ts";
import { recoverSegment } from "./data-path/segment-recovery.ts";
import { ShardReader } from "./data-path/shard-reader.ts";
import { syncDir } from "./data-path/sync-dir.ts";
import { DstoreError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { ProgressListener } from "./progress.ts";
import { FileLayout } from "./protocol/layout.ts";
import { type FileId, shardIdOf } from "./protocol/shard-id.ts";

/**
 * Files up to this size are opened on the main thread (a rebuild runs on libuv's
 * threadpool either way), as are all files on a machine with no core to spare for a
 * worker; `DSTORE_WORKERS` decides when set. Opening costs ~0.5 CPU-s per GiB, a worker
 * ~0.2 s to start, and on two cores its thread competes with the main thread. Measured on
 * two cores with the 6-node devnet (bench/README.md), interleaved: 64 MiB 118 -> 132
 * MB/s, 256 MiB 278 -> 297, 1 GiB 412 -> 473.
 */
const INLINE_LIMIT = availableParallelism() <= 2 ? Number.POSITIVE_INFINITY : 256 * 1024 * 1024;

/** Options of {@link download}. */
export interface DownloadOptions {
  onProgress?: ProgressListener;
  onWarning?: (message: string) => void;
  /** Ms to wait for a slow node's piece before asking another node too (adaptive after). */
  hedgeDelay?: number;
  /** Most ms without a byte from a node before it counts as failed (default 30 s). */
  idleTimeout?: number;
  /**
   * Replace the destination file if it exists (default: refuse). A character device or a
   * named pipe is written into without it, as `cp` does; a block device only with it.
   */
  overwrite?: boolean;
  /**
   * Flush the file to the disk before returning (default false, as `cp` and `curl` do).
   * Ask for it before removing the file from the network: without it, a power cut
   * in the seconds after a get may lose what it wrote. For a regular file written by
   * path only: a stream, a device or a pipe is not flushed.
   */
  fsync?: boolean;
  signal?: AbortSignal;
  logger?: Logger;
}

/** What {@link download} wrote. */
export interface DownloadResult {
  fileId: FileId;
  /** The file written, or "-" when the destination was a stream. */
  path: string;
  size: number;
  /** The file's stored name, if it has one. */
  name?: string;
  /** Shards that nodes served damaged or not at all (the file was rebuilt without them). */
  badShards: number[];
  warnings: string[];
}

/** Where a file's shards are and how to open them. */
interface Fetch {
  layout: FileLayout;
  fileId: FileId;
  record: FileRecord;
  cipher: SegmentCipher;
  pool?: CodecPool;
  endpoints: string[];
  options: DownloadOptions;
  warn: (message: string) => void;
}

/**
 * Where a get's plaintext goes: each segment is opened straight into its ring slot at
 * `shift(offset)` bytes from the slot's start, and written from there.
 */
interface PlainSink {
  /** Where in its slot the plaintext for file offset `offset` must start. */
  shift(offset: number): number;
  /** Append the `length` bytes at `slot[shift]`; resolves once the slot is free again. */
  write(slot: Buffer, length: number): Promise<void>;
}

/**
 * Fetch, verify, decode and decrypt a file into `destination`: a file path, a folder to
 * write it into under its stored name, or a stream. A file is written to a temporary file
 * beside it that is renamed into place only after every segment checked out; on any
 * failure nothing is left behind. A stream (standard output, say), or a path that names
 * a device or a pipe, gets each segment as soon as it checked out, in order: what it got
 * before a failure is authentic, but not the whole file.
 *
 * @example
 * const { path } = await download(chain, fileId, "./downloads/");
 * await download(chain, fileId, process.stdout); // path "-"
 */
export async function download(
  chain: Chain,
  requested: string,
  destination: string | NodeJS.WritableStream | undefined,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const { record, wallet, fileId } = await readOwnedFile(chain, requested, "reading files");
  const { fileKey, metadata } = unwrapFileKey(record.wrappedKey, fileId, wallet.privateKey);
  const layout = new FileLayout(record);
  const warnings: string[] = [];
  const fetch: Fetch = {
    layout,
    fileId,
    record,
    cipher: new SegmentCipher(fileKey, getBytes(fileId)),
    endpoints: record.placements.map((id) => record.nodes.get(id)?.endpoint ?? ""),
    options,
    warn: (message) => {
      warnings.push(message);
      options.onWarning?.(message);
    },
  };
  // Where it goes is settled (and a refusal said) before any codec worker starts.
  let path = "-";
  let output: { stream: NodeJS.WritableStream; what: string; owned: boolean } | undefined;
  if (destination !== undefined && typeof destination !== "string") {
    output = { stream: destination, what: streamName(destination), owned: false };
  } else {
    path = await outputPath(destination, metadata.name ?? fileId);
    const special = await openSpecialFile(path, options.overwrite ?? false);
    if (special) output = { stream: special.createWriteStream(), what: path, owned: true };
    else await refuseExisting(path, options);
  }
  let badShards: number[];
  let pool: CodecPool | undefined;
  try {
    pool = new CodecPool(fileKey, getBytes(fileId), layout, {
      threads: workersFor(layout.size, INLINE_LIMIT),
    });
    fetch.pool = pool;
    badShards = output
      ? await fetchToStream(fetch, output.stream, output.what, output.owned)
      : await fetchToFile(fetch, path);
  } catch (error) {
    // A device or pipe opened above and never handed over is closed here.
    if (output?.owned && !pool)
      (output.stream as NodeJS.WritableStream & { destroy(): void }).destroy();
    throw error;
  } finally {
    await pool?.close();
  }
  return {
    fileId,
    path,
    size: layout.size,
    ...(metadata.name === undefined ? {} : { name: metadata.name }),
    badShards,
    warnings,
  };
}

/** The error of an output that could not be written. */
function outputError(what: string, cause: unknown): DstoreError {
  return new DstoreError("OutputError", `writing ${what} failed: ${(cause as Error).message}`, {
    cause,
  });
}

/** What to call a stream in errors. */
function streamName(stream: NodeJS.WritableStream): string {
  const fd = (stream as { fd?: unknown }).fd;
  return stream === process.stdout || fd === 1 ? "standard output" : "the output stream";
}

/**
 * The file at `path` opened for writing if it is a character device (/dev/null, a
 * terminal) or a named pipe, or with `overwrite` a block device: such a file is written
 * in place, as `cp` writes it; a temporary file renamed over it would replace the device.
 * Opening a pipe waits for its reader, as `cp` does.
 */
async function openSpecialFile(path: string, overwrite: boolean): Promise<FileHandle | undefined> {
  const special = (info: Stats) =>
    info.isCharacterDevice() || info.isFIFO() || (overwrite && info.isBlockDevice());
  const info = await stat(path).catch(() => undefined);
  if (!info || !special(info)) return undefined;
  // Not created, not truncated: if it became something else meanwhile, it is not touched.
  const handle = await open(path, constants.O_WRONLY).catch((cause) =>
    Promise.reject(outputError(path, cause)),
  );
  try {
    if (special(await handle.stat())) return handle;
  } catch (cause) {
    await handle.close();
    throw outputError(path, cause);
  }
  await handle.close();
  return undefined;
}

/** Refuse to replace an existing `path` unless told to (OutputExists). */
async function refuseExisting(path: string, options: DownloadOptions): Promise<void> {
  if (!options.overwrite && (await stat(path).catch(() => undefined))) {
    throw new DstoreError(
      "OutputExists",
      `${path} exists; choose another output or allow replacing it`,
    );
  }
}

/** Fetch into a new file at `path`, checked by {@link refuseExisting} (see {@link download}). */
async function fetchToFile(f: Fetch, path: string): Promise<number[]> {
  const { options } = f;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.part`);
  // A failing disk (full, gone, read-only) is the output's fault, not the network's: say so.
  const writing = (cause: unknown) => outputError(path, cause);
  let out: FileWriter | undefined;
  try {
    // Bulk plaintext bypasses the page cache where it can: a download is written once and
    // rarely read back at once, and on many virtual machines new page-cache pages cost the
    // CPU more than everything else a get does.
    // Not flushed unless asked: on this VM the flushes took a 1 GiB get from ~350 to
    // ~250 MB/s (bench/README.md), and downloaders leave that to the system.
    const output = await FileWriter.create(tmp, { durable: options.fsync ?? false }).catch(
      (cause) => Promise.reject(writing(cause)),
    );
    out = output;
    const badShards = await fetchInto(f, {
      shift: (offset) => output.placedShift(offset),
      write: async (slot, length) => {
        try {
          await output.writePlaced(slot, length);
        } catch (cause) {
          throw writing(cause);
        }
      },
    });
    await output.finish().catch((cause) => Promise.reject(writing(cause)));
    await rename(tmp, path);
    if (options.fsync) {
      await syncDir(dirname(path)).catch((cause) =>
        Promise.reject(
          new DstoreError(
            "OutputError",
            `${path} is written, but flushing its folder failed: ${(cause as Error).message}`,
            { cause },
          ),
        ),
      );
    }
    return badShards;
  } catch (error) {
    if (out) {
      await out.abort();
      await rm(tmp, { force: true });
    }
    throw error;
  }
}

/**
 * Fetch into a stream, each segment written from its ring slot as soon as it is open,
 * in order; `owned` streams are ended (and their file closed) when done or failed.
 */
async function fetchToStream(
  f: Fetch,
  stream: NodeJS.WritableStream,
  what: string,
  owned = false,
): Promise<number[]> {
  // A closed pipe (EPIPE) and the like come as 'error' too; each write reports its own.
  let broken: unknown;
  const onError = (error: unknown) => {
    broken ??= error;
  };
  stream.on("error", onError);
  try {
    const badShards = await fetchInto(f, {
      shift: () => 0,
      write: (slot, length) =>
        new Promise<void>((resolve, reject) => {
          if (broken !== undefined) {
            reject(outputError(what, broken));
            return;
          }
          // The callback comes once the stream is done with the bytes: the slot is free.
          stream.write(slot.subarray(0, length), (error) =>
            error ? reject(outputError(what, error)) : resolve(),
          );
        }),
    });
    if (owned) await endStream(stream).catch((cause) => Promise.reject(outputError(what, cause)));
    return badShards;
  } catch (error) {
    if (owned) (stream as NodeJS.WritableStream & { destroy(): void }).destroy();
    throw error;
  } finally {
    stream.off("error", onError);
  }
}

function endStream(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.end(() => resolve());
  });
}

async function outputPath(destination: string | undefined, name: string): Promise<string> {
  // A stored name is only a name: no folders, and never "." or "..".
  const base = basename(name);
  const safeName = base === "" || base === "." || base === ".." ? "download" : base;
  if (destination === undefined) return resolve(safeName);
  const info = await stat(destination).catch(() => undefined);
  return info?.isDirectory() ? resolve(destination, safeName) : resolve(destination);
}

type ShardState = "idle" | "active" | "failed" | "bad";

/**
 * Read every segment from the first k shards that answer, hedging slow nodes and
 * replacing failed ones, and hand the plaintext to `sink` in order. Returns the shards
 * found damaged or unreachable.
 */
async function fetchInto(f: Fetch, sink: PlainSink): Promise<number[]> {
  const { layout, options } = f;
  const { k } = layout;
  const state: ShardState[] = f.endpoints.map((endpoint) => (endpoint ? "idle" : "failed"));
  const readers = new Map<number, ShardReader>();
  const problems = new Set<number>(state.flatMap((s, i) => (s === "failed" ? [i] : [])));
  let hedgeDelay = options.hedgeDelay ?? 1500;
  let written = 0;
  options.onProgress?.({ phase: "fetch", done: 0, total: layout.size });

  const readerFor = (index: number, segment: number) =>
    new ShardReader(
      layout,
      shardIdOf(f.fileId, index),
      index,
      f.endpoints[index]!,
      segment,
      options.idleTimeout,
    );
  const open = (index: number, segment: number) => {
    const reader = readerFor(index, segment);
    readers.set(index, reader);
    state[index] = "active";
    return reader;
  };
  const retire = (index: number, why: ShardState | "idle") => {
    readers.get(index)?.close();
    readers.delete(index);
    state[index] = why;
    if (why !== "idle") problems.add(index);
  };
  // Data shards first: with all k of them no decoding is needed.
  const spare = () => state.indexOf("idle");

  // Pieces land in a slot of the pool's ring, a worker decodes and opens the segment in
  // place (where the output wants it within a page), and the slot is written to the file
  // from there, nothing copied. Writes are handed out in order and run on their own while
  // the next segments are fetched and decoded (a get used to stop fetching while it
  // wrote, and was ~20 % slower); a slot comes back once written, so the ring's slots
  // bound all of it. Every byte written was authenticated by its segment's AES-GCM tag.
  const ring = f.pool!.ring;
  let writing: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  // Set when writing failed: the loop stops, and this error is the one reported.
  let failed: { error: unknown } | undefined;
  let stopped = false;
  const fail = (error: unknown) => {
    failed ??= { error };
    stopped = true;
  };
  const writeOut = (segment: number, slot: number, opened: Promise<void>) => {
    // Its failure is taken up below, in turn; it must not go unhandled meanwhile.
    opened.catch(() => {});
    const previous = writing;
    writing = (async () => {
      let handedOut = false;
      try {
        await previous;
        await opened;
        if (stopped) return;
        const length = layout.plainLength(segment);
        const write: Promise<void> = sink
          .write(ring.slot(slot), length)
          .then(() => {
            written += length;
            options.onProgress?.({ phase: "fetch", done: written, total: layout.size });
          })
          .catch(fail)
          .finally(() => {
            inFlight.delete(write);
            ring.release(slot);
          });
        inFlight.add(write);
        handedOut = true;
      } catch (error) {
        fail(error);
        throw error;
      } finally {
        if (!handedOut) {
          // A worker (or the corruption search) may still be using the slot: wait for it.
          await opened.catch(() => {});
          ring.release(slot);
        }
      }
    })();
    // Awaited at the end; a failure meanwhile stops the loop through `stopped`.
    writing.catch(() => {});
  };
  const settled = async () => {
    await writing.catch(() => {});
    while (inFlight.size > 0) await Promise.all(inFlight);
  };
  try {
    for (let segment = 0; segment < layout.segments && !stopped; segment++) {
      options.signal?.throwIfAborted();
      const slot = await ring.acquire();
      if (stopped) {
        ring.release(slot);
        break;
      }
      const started = Date.now();
      let pieces: Map<number, Buffer>;
      try {
        pieces = await gather(segment, slot);
      } catch (error) {
        ring.release(slot);
        throw error;
      }
      hedgeDelay = options.hedgeDelay ?? Math.min(5000, Math.max(150, 4 * (Date.now() - started)));
      writeOut(segment, slot, open_(segment, slot, pieces));
    }
    await writing;
    await settled();
    if (failed) throw failed.error;
  } catch (error) {
    throw failed ? failed.error : error;
  } finally {
    stopped = true;
    for (const index of [...readers.keys()]) retire(index, "idle");
    // Segments still decoding or being written give their slots back as they settle.
    await settled();
  }
  return [...problems].sort((a, b) => a - b);

  /**
   * The first k pieces of `segment` to arrive, read into `slot`, opening spares for
   * failed or slow shards.
   */
  async function gather(segment: number, slot: number): Promise<Map<number, Buffer>> {
    const size = layout.pieceSize(segment);
    const got = new Map<number, Buffer>();
    const asked = new Set<number>();
    let settle: () => void = () => {};
    let outstanding = 0;
    const ask = (reader: ShardReader) => {
      asked.add(reader.index);
      outstanding++;
      reader
        .piece(segment, ring.piece(slot, reader.index, size))
        .then(
          (piece) => {
            if (readers.get(reader.index) === reader) got.set(reader.index, piece);
          },
          (error: unknown) => {
            if (readers.get(reader.index) !== reader) return;
            options.logger?.warn("shard read failed", { shard: reader.index, error });
            retire(reader.index, "failed");
          },
        )
        .finally(() => {
          outstanding--;
          settle();
        });
    };
    const activeCount = () => [...readers.keys()].length;
    for (const reader of readers.values()) ask(reader);
    for (let index = spare(); activeCount() < k && index >= 0; index = spare())
      ask(open(index, segment));
    while (got.size < k) {
      const before = got.size + outstanding;
      const hedge = new Promise<"hedge">((resolve) =>
        setTimeout(() => resolve("hedge"), hedgeDelay).unref(),
      );
      const event = await Promise.race([
        new Promise<"settled">((resolve) => (settle = () => resolve("settled"))),
        hedge,
      ]);
      if (got.size >= k) break;
      const needed = k - got.size - outstanding;
      // Replace failures at once; on a slow piece, ask one more node (hedging).
      let extra =
        needed > 0 ? needed : event === "hedge" && before === got.size + outstanding ? 1 : 0;
      for (let index = spare(); extra > 0 && index >= 0; index = spare(), extra--)
        ask(open(index, segment));
      if (got.size + outstanding < k) {
        throw new DstoreError(
          "NotEnoughShards",
          `only ${got.size + outstanding} of the ${k} shards needed are reachable (${problems.size} of ${layout.shards} failed)`,
        );
      }
    }
    // Readers still busy with this segment are the slow ones: let them go for now.
    for (const index of asked)
      if (!got.has(index) && state[index] === "active") retire(index, "idle");
    return got;
  }

  /**
   * Decode and decrypt into the slot, where the sink wants the plaintext, falling back to
   * a search over the pieces when one is corrupt.
   */
  async function open_(segment: number, slot: number, got: Map<number, Buffer>): Promise<void> {
    const present = Array.from({ length: layout.shards }, (_, index) => got.has(index));
    const shift = sink.shift(segment * layout.segmentSize);
    if (await f.pool!.decode(segment, slot, present, shift)) return;
    // Some piece is wrong, and the failed open zeroed the slot. Fetch this segment's
    // piece from every shard still usable, find k that decrypt, and retire the shards
    // whose pieces disagree with the rebuilt segment.
    got.clear();
    await Promise.all(
      state.map(async (s, index) => {
        if (s === "failed" || s === "bad") return;
        const reader = readerFor(index, segment);
        try {
          got.set(index, await reader.piece(segment));
        } catch {
          retire(index, "failed");
        } finally {
          reader.close();
        }
      }),
    );
    const recovered = await recoverSegment(layout, f.cipher, segment, got);
    for (const index of recovered.corrupt) {
      // Segments decoded side by side may find the same shard: say it once.
      if (state[index] !== "bad") {
        f.warn(
          `shard ${index} at ${f.endpoints[index]} is corrupt; the file was rebuilt without it`,
        );
      }
      retire(index, "bad");
    }
    copyInto(ring.slot(slot), recovered.plain, shift);
  }
}
