import { randomBytes } from "node:crypto";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SegmentCipher } from "../../client/crypto/segment-cipher.ts";
import { CodecPool } from "../../client/data-path/codec-pool.ts";
import { SegmentPass } from "../../client/data-path/segment-pass.ts";
import type { SegmentRing } from "../../client/data-path/segment-ring.ts";
import { openSegmentSource, type SegmentSource } from "../../client/data-path/segment-source.ts";
import { merkleRoot } from "../../client/protocol/merkle.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { eventually } from "../helpers/poll.ts";

/** How many of the ring's slots are free now (the ring is of no use afterwards). */
async function freeSlots(ring: SegmentRing): Promise<number> {
  let free = 0;
  for (let i = 0; i < ring.slots; i++) void ring.acquire().then(() => free++);
  await new Promise((resolve) => setImmediate(resolve));
  return free;
}

/** Go through `pass`, each slot given back at once, the indices handed out into `seen`. */
function goThrough(
  pass: SegmentPass,
  ring: SegmentRing,
  seen: number[],
  signal?: AbortSignal,
  then?: (index: number) => void,
): Promise<void> {
  return pass.forEach(signal, (slot, index) => {
    seen.push(index);
    ring.release(slot);
    then?.(index);
  });
}

describe("SegmentPass", () => {
  afterAll(removeTempDirs);
  const fileKey = randomBytes(32);
  const fileId = randomBytes(32);
  const cipher = new SegmentCipher(fileKey, fileId);
  // Pieces of 16 KiB: four leaves each, so every piece of a full segment has its root.
  const segmentSize = 4 * 16_384 - 16;

  /**
   * A 5-segment file (the last one short) and its source, every read counted; `fail` makes
   * its first check (`begin`) or the read of one segment fail.
   */
  async function fileSource(fail: { begin?: boolean; read?: number } = {}) {
    const dir = await tempDir("dstore-pass-");
    const data = randomBytes(4 * segmentSize + 1000);
    const path = join(dir, "file");
    await writeFile(path, data);
    const source = await openSegmentSource(path, { cipher, segmentSize, k: 4, m: 2 });
    const reads: number[] = [];
    let checks = 0;
    const counted: SegmentSource = {
      ...source,
      begin: () =>
        fail.begin && checks++ === 0
          ? Promise.reject(new Error("the file changed"))
          : source.begin(),
      readInto: (index, target) => {
        reads.push(index);
        if (index === fail.read) return Promise.reject(new Error("the disk failed"));
        return source.readInto(index, target);
      },
    };
    return { data, path, source: counted, reads };
  }

  it.each([0, 1])(
    "hands every segment out in order, sealed and coded, with %i worker(s)",
    async (threads) => {
      const { data, source } = await fileSource();
      const pool = new CodecPool(fileKey, fileId, source.layout, { threads });
      try {
        const pass = new SegmentPass(source, pool, true);
        const seen: number[] = [];
        await pass.forEach(undefined, (slot, index, roots) => {
          seen.push(index);
          const { layout } = source;
          const plain = data.subarray(index * segmentSize, (index + 1) * segmentSize);
          const sealed = cipher.seal(plain, index, layout.isLast(index));
          const size = layout.pieceSize(index);
          const pieces = [0, 1, 2, 3].map((i) => pool.ring.piece(slot, i, size));
          expect(Buffer.concat(pieces).subarray(0, sealed.length).equals(sealed)).toBe(true);
          const piece = pool.ring.piece(slot, 5, size);
          // Full pieces come with their root; the short last segment's are hashed later.
          if (layout.isLast(index)) expect(roots?.[5]).toBeUndefined();
          else expect(roots?.[5]?.root.equals(merkleRoot(piece))).toBe(true);
          pool.ring.release(slot);
        });
        expect(seen).toEqual([0, 1, 2, 3, 4]);
        expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
      } finally {
        await Promise.all([source.close(), pool.close()]);
      }
    },
  );

  it("reads and codes its first segments before it is gone through", async () => {
    const { source, reads } = await fileSource();
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 1 });
    try {
      const pass = new SegmentPass(source, pool, true);
      await eventually(() => reads.length === pool.depth, { what: "the segments read ahead" });
      expect(reads).toEqual([0, 1]);
      await pass.cancel();
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });

  it("fails with its source's error and gives every slot back", async () => {
    const { source, reads } = await fileSource({ begin: true });
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 0 });
    try {
      const pass = new SegmentPass(source, pool, false);
      await expect(pass.forEach(undefined, () => undefined)).rejects.toThrow("the file changed");
      expect(reads).toEqual([]);
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });

  it("fails with a failed read and gives every slot back, the ones coded ahead too", async () => {
    const { source } = await fileSource({ read: 2 });
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 1 });
    try {
      const pass = new SegmentPass(source, pool, true);
      const seen: number[] = [];
      await expect(goThrough(pass, pool.ring, seen)).rejects.toThrow("the disk failed");
      expect(seen).toEqual([0, 1]);
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });

  it("fails a file changed while its first segments were coded ahead", async () => {
    const { path, source, reads } = await fileSource();
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 0 });
    try {
      const pass = new SegmentPass(source, pool, true);
      await eventually(() => reads.length > 0, { what: "the first segment read" });
      // The same size, other bytes, a later modification time.
      await writeFile(path, randomBytes(source.layout.size));
      await utimes(path, new Date(), new Date(Date.now() + 60_000));
      const seen: number[] = [];
      await expect(goThrough(pass, pool.ring, seen)).rejects.toThrow(
        "changed while it was being stored",
      );
      expect(seen).toEqual([]);
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });

  it("is gone through once: cancelled, it hands nothing out", async () => {
    const { source } = await fileSource();
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 0 });
    try {
      const pass = new SegmentPass(source, pool, false);
      await pass.cancel();
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
      await expect(pass.forEach(undefined, () => undefined)).rejects.toThrow("once");
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });

  it("stops when aborted, every slot given back", async () => {
    const { source } = await fileSource();
    const pool = new CodecPool(fileKey, fileId, source.layout, { threads: 0 });
    const abort = new AbortController();
    try {
      const pass = new SegmentPass(source, pool, false);
      const seen: number[] = [];
      const stopAtOne = (index: number) => index === 1 && abort.abort(new Error("stop here"));
      await expect(goThrough(pass, pool.ring, seen, abort.signal, stopAtOne)).rejects.toThrow(
        "stop here",
      );
      expect(seen).toEqual([0, 1]);
      expect(await freeSlots(pool.ring)).toBe(pool.ring.slots);
    } finally {
      await Promise.all([source.close(), pool.close()]);
    }
  });
});
