import { mkdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ALIGNED_BLOCK_SIZE,
  LARGE_ALIGNED_BLOCK_SIZE,
} from "../../client/data-path/aligned-blocks.ts";
import { HASH_SIZE, LEAF_SIZE, leafHash } from "../../client/protocol/merkle.ts";
import { ShardStore, type ShardStoreOptions } from "../../node-service/shard-store.ts";
import { filesUnder, removeTempDirs, shardFiles, tempDir } from "../helpers/data-dir.ts";
import { gate } from "../helpers/node-api.ts";
import { type ExampleShard, exampleShard, keepShard, recordOf } from "../helpers/shard-examples.ts";
import { silentLogger } from "../helpers/silent-logger.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";

const quiet = silentLogger;

function openStore(dir: string, options: Partial<ShardStoreOptions> = {}): Promise<ShardStore> {
  return ShardStore.open(dir, {
    capacity: 64 * 1024 * 1024,
    maxShardSize: 64 * 1024 * 1024,
    logger: quiet,
    ...options,
  });
}

describe("ShardStore", () => {
  afterAll(removeTempDirs);

  let dir: string;
  let store: ShardStore;

  beforeEach(async () => {
    dir = await tempDir("dstore-store-");
    store = await openStore(dir);
  });

  it("stores a shard and gives back its record, bytes and leaf hashes", async () => {
    const shard = exampleShard(3 * LEAF_SIZE + 100);
    const stored = await keepShard(store, shard);

    expect(stored).toMatchObject(recordOf(shard));
    expect(store.get(shard.shardId)).toEqual(stored);
    expect(await readFile(store.dataPath(shard.shardId))).toEqual(shard.body);
    expect(await store.readRange(shard.shardId, 5000, 300)).toEqual(
      shard.body.subarray(5000, 5300),
    );
    const hashes = await store.readLeafHashes(shard.shardId);
    expect(hashes.length).toBe(4 * HASH_SIZE);
    expect(hashes.subarray(3 * HASH_SIZE)).toEqual(leafHash(shard.body.subarray(3 * LEAF_SIZE)));
    expect({ used: store.used, reserved: store.reserved, count: store.count }).toEqual({
      used: shard.body.length,
      reserved: 0,
      count: 1,
    });
    expect(await filesUnder(dir)).toEqual(shardFiles(shard.shardId));
  });

  it("stores an empty shard (one empty leaf)", async () => {
    const shard = exampleShard(0);
    await keepShard(store, shard);
    expect(store.get(shard.shardId)?.size).toBe(0);
    expect((await store.readLeafHashes(shard.shardId)).length).toBe(HASH_SIZE);
  });

  it("keeps leaf hashes in order for a shard of many leaf batches", async () => {
    // 2048 leaves are flushed per batch: 3 batches and a bit, fed in odd-sized chunks.
    const shard = exampleShard(3 * 2048 * LEAF_SIZE + 777);
    const chunks = [];
    for (let offset = 0; offset < shard.body.length; offset += 100_003) {
      chunks.push(shard.body.subarray(offset, offset + 100_003));
    }
    await store.write(recordOf(shard), Readable.from(chunks), store.reserve(shard.body.length));
    const hashes = await store.readLeafHashes(shard.shardId);
    for (const leaf of [0, 2047, 2048, 4095, 4096, 6143, 6144]) {
      const bytes = shard.body.subarray(leaf * LEAF_SIZE, (leaf + 1) * LEAF_SIZE);
      expect(hashes.subarray(leaf * HASH_SIZE, (leaf + 1) * HASH_SIZE)).toEqual(leafHash(bytes));
    }
  });

  it("refuses bytes whose Merkle root is not the signed one (RootMismatch) and keeps nothing", async () => {
    const shard = exampleShard(10_000);
    const other = exampleShard(10_000);
    await expect(
      store.write(
        recordOf(shard, { root: other.root }),
        Readable.from([shard.body]),
        store.reserve(10_000),
      ),
    ).rejects.toMatchObject({ name: "RootMismatch" });
    expect(store.get(shard.shardId)).toBeUndefined();
    expect({ used: store.used, reserved: store.reserved }).toEqual({ used: 0, reserved: 0 });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("refuses a body shorter than the signed size (SizeMismatch) and keeps nothing", async () => {
    const shard = exampleShard(10_000);
    await expect(
      store.write(
        recordOf(shard, { size: 10_001 }),
        Readable.from([shard.body]),
        store.reserve(10_001),
      ),
    ).rejects.toMatchObject({ name: "SizeMismatch" });
    expect(await filesUnder(dir)).toEqual([]);
    expect(store.reserved).toBe(0);
  });

  it("refuses a body longer than the signed size (BodyTooLarge) and keeps nothing", async () => {
    const shard = exampleShard(10_000);
    await expect(
      store.write(
        recordOf(shard, { size: 9_999 }),
        Readable.from([shard.body]),
        store.reserve(9_999),
      ),
    ).rejects.toMatchObject({ name: "BodyTooLarge" });
    expect(await filesUnder(dir)).toEqual([]);
    expect(store.reserved).toBe(0);
  });

  it("refuses to reserve a shard above the per-shard limit (ShardTooLarge)", async () => {
    const small = await openStore(await tempDir(), { maxShardSize: 1000 });
    expect(() => small.reserve(1001)).toThrow(expect.objectContaining({ name: "ShardTooLarge" }));
    expect(small.reserve(1000).size).toBe(1000);
  });

  it("counts space reserved for uploads in flight against the capacity (InsufficientStorage)", async () => {
    const small = await openStore(await tempDir(), { capacity: 100_000 });
    const first = small.reserve(60_000);
    expect(small.reserved).toBe(60_000);
    expect(() => small.reserve(50_000)).toThrow(
      expect.objectContaining({ name: "InsufficientStorage" }),
    );
    first.release();
    first.release();
    expect(small.reserved).toBe(0);
    const shard = exampleShard(60_000);
    await keepShard(small, shard);
    expect(() => small.reserve(50_000)).toThrow(
      expect.objectContaining({ name: "InsufficientStorage" }),
    );
    expect(small.reserve(40_000).size).toBe(40_000);
  });

  it("refuses a second upload of a shard being written (ShardExists) and releases its reservation", async () => {
    const shard = exampleShard(200_000);
    const halfway = gate();
    async function* slowBody() {
      yield shard.body.subarray(0, 100_000);
      await halfway.opened;
      yield shard.body.subarray(100_000);
    }
    const first = store.write(recordOf(shard), slowBody(), store.reserve(200_000));
    await expect(
      store.write(recordOf(shard), Readable.from([shard.body]), store.reserve(200_000)),
    ).rejects.toMatchObject({ name: "ShardExists" });
    expect(store.reserved).toBe(200_000);
    halfway.open();
    await first;
    expect({ used: store.used, reserved: store.reserved }).toEqual({ used: 200_000, reserved: 0 });
  });

  it("refuses to overwrite a stored shard (ShardExists) and releases the reservation", async () => {
    const shard = exampleShard(1000);
    await keepShard(store, shard);
    await expect(keepShard(store, shard)).rejects.toMatchObject({ name: "ShardExists" });
    expect({ used: store.used, reserved: store.reserved }).toEqual({ used: 1000, reserved: 0 });
  });

  it("removes the temporary files of an upload whose body fails midway (client abort)", async () => {
    const shard = exampleShard(300_000);
    async function* abortedBody() {
      yield shard.body.subarray(0, 100_000);
      throw Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    }
    await expect(
      store.write(recordOf(shard), abortedBody(), store.reserve(300_000)),
    ).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(await filesUnder(dir)).toEqual([]);
    expect({ count: store.count, reserved: store.reserved }).toEqual({ count: 0, reserved: 0 });
    // The same shard can be uploaded again afterwards.
    await keepShard(store, shard);
    expect(store.count).toBe(1);
  });

  it("sends any range of a shard many blocks long, to a fast or a slow reader", async () => {
    const block = ALIGNED_BLOCK_SIZE;
    const shard = exampleShard(9 * block + 12_345);
    await keepShard(store, shard);
    const size = shard.body.length;
    const ranges = [
      [0, size - 1],
      [1, size - 1],
      [block - 7, 6 * block + 3],
      [4097, 4097 + 100],
      [5 * block, 5 * block],
      [size - 300, size - 1],
    ] as const;
    for (const slow of [false, true]) {
      for (const [start, end] of ranges) {
        const parts: Buffer[] = [];
        const out = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _encoding, callback) {
            parts.push(Buffer.from(chunk));
            if (slow) setTimeout(callback, 1);
            else callback();
          },
        });
        await store.sendRange(shard.shardId, start, end, out);
        expect(Buffer.concat(parts).equals(shard.body.subarray(start, end + 1))).toBe(true);
      }
    }
  });

  it("sends in large blocks while few transfers run, and in small ones beyond eight", async () => {
    const shard = exampleShard(3 * LARGE_ALIGNED_BLOCK_SIZE + 100);
    await keepShard(store, shard);
    const end = shard.body.length - 1;
    const chunkSizes = async () => {
      const sizes: number[] = [];
      const out = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          sizes.push(chunk.length);
          callback();
        },
      });
      await store.sendRange(shard.shardId, 0, end, out);
      return sizes;
    };
    expect(await chunkSizes()).toEqual([...Array(3).fill(LARGE_ALIGNED_BLOCK_SIZE), 100]);
    // Eight sends whose readers take nothing until the gate opens.
    const held = gate();
    let started = 0;
    const sends = Array.from({ length: 8 }, () =>
      store.sendRange(
        shard.shardId,
        0,
        end,
        new Writable({
          write(_chunk, _encoding, callback) {
            started++;
            void held.opened.then(() => callback());
          },
        }),
      ),
    );
    await vi.waitFor(() => expect(started).toBe(8));
    const small = await chunkSizes();
    expect(small.length).toBe(Math.ceil(shard.body.length / ALIGNED_BLOCK_SIZE));
    expect(new Set(small.slice(0, -1))).toEqual(new Set([ALIGNED_BLOCK_SIZE]));
    held.open();
    await Promise.all(sends);
    expect(await chunkSizes()).toHaveLength(4);
  });

  it("fails a send when the shard's file is shorter than its record", async () => {
    const shard = exampleShard(3 * ALIGNED_BLOCK_SIZE);
    await keepShard(store, shard);
    await truncate(store.dataPath(shard.shardId), ALIGNED_BLOCK_SIZE + 10);
    const out = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await expect(store.sendRange(shard.shardId, 0, shard.body.length - 1, out)).rejects.toThrow(
      "shorter than its record",
    );
  });

  it("drops a shard with remove(): record first, then bytes and hashes; space is freed", async () => {
    const shard = exampleShard(5000);
    await keepShard(store, shard);
    expect(await store.remove(shard.shardId)).toBe(true);
    expect(await store.remove(shard.shardId)).toBe(false);
    expect({ count: store.count, used: store.used }).toEqual({ count: 0, used: 0 });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("rebuilds its index on reopen and drops temporary files and incomplete or damaged shards", async () => {
    const whole = exampleShard(9000);
    const noRecord = exampleShard(9000);
    const truncated = exampleShard(9000);
    const badLeaves = exampleShard(9000);
    for (const shard of [whole, noRecord, truncated, badLeaves]) await keepShard(store, shard);
    const path = (shard: ExampleShard) => store.dataPath(shard.shardId);
    await writeFile(join(dir, "tmp", `${whole.shardId}.abc.part`), "half a shard");
    await writeFile(`${path(noRecord)}.json`, "");
    await truncate(path(truncated), 100);
    await truncate(`${path(badLeaves)}.leaves`, HASH_SIZE);
    await writeFile(`${path(whole)}.stray`, "junk");
    await mkdir(join(dir, "shards", "zz"), { recursive: true });

    const reopened = await openStore(dir);

    expect([...reopened.list()].map((meta) => meta.shardId)).toEqual([whole.shardId]);
    expect(reopened.get(whole.shardId)).toEqual(store.get(whole.shardId));
    expect({ used: reopened.used, reserved: reopened.reserved }).toEqual({
      used: 9000,
      reserved: 0,
    });
    expect(await filesUnder(dir)).toEqual(shardFiles(whole.shardId));
  });

  describe("on a full disk (tmpfs)", () => {
    it("fails with InsufficientStorage, keeps nothing partial and keeps working (ENOSPC)", async () => {
      const disk = mountTmpfs("1m");
      try {
        const full = await openStore(join(disk.dir, "data"), { capacity: 2 ** 40 });
        const tooBig = exampleShard(2 * 1024 * 1024);
        await expect(keepShard(full, tooBig)).rejects.toMatchObject({
          name: "InsufficientStorage",
          cause: expect.objectContaining({ code: "ENOSPC" }),
        });
        expect(await filesUnder(join(disk.dir, "data"))).toEqual([]);
        expect({ count: full.count, used: full.used, reserved: full.reserved }).toEqual({
          count: 0,
          used: 0,
          reserved: 0,
        });
        const fits = exampleShard(100_000);
        await keepShard(full, fits);
        expect(await readFile(full.dataPath(fits.shardId))).toEqual(fits.body);
      } finally {
        disk.unmount();
      }
    });

    it("reports a leaf-hash write that hits a full disk as InsufficientStorage, never as an unhandled rejection", async () => {
      const small = mountTmpfs("512k")!;
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      try {
        const full = await openStore(join(small.dir, "data"), { capacity: 2 ** 40 });
        await writeFile(join(small.dir, "filler"), Buffer.alloc(1024 * 1024)).catch(() => {});
        // One chunk of more than 2048 leaves: the leaf hashes are flushed while the bytes
        // are still on their way to the (full) disk.
        const shard = exampleShard(2048 * LEAF_SIZE + 1);
        await expect(keepShard(full, shard)).rejects.toMatchObject({ name: "InsufficientStorage" });
        // The leaf write failed before write() settled; Node reports an unhandled rejection
        // once the microtask queue has drained.
        await new Promise((resolve) => setImmediate(resolve));
        expect(unhandled).toEqual([]);
        expect(await filesUnder(join(small.dir, "data"))).toEqual([]);
      } finally {
        process.off("unhandledRejection", onUnhandled);
        small.unmount();
      }
    });
  });
});
