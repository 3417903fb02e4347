import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CodecPool } from "../../client/data-path/codec-pool.ts";
import { FileLayout } from "../../client/protocol/layout.ts";

describe("CodecPool", () => {
  const fileKey = randomBytes(32);
  const fileId = randomBytes(32);
  const layout = new FileLayout({ size: 3 * 65_520, segmentSize: 65_520, k: 4, m: 2 });

  /** Seal and code segment `index` of `plain` through the pool, then decode it back. */
  async function roundTrip(pool: CodecPool, plain: Buffer, index: number): Promise<Buffer> {
    const slot = await pool.ring.acquire();
    try {
      const segment = plain.subarray(index * layout.segmentSize, (index + 1) * layout.segmentSize);
      pool.ring.segment(slot, segment.length).set(segment);
      const roots = await pool.encode(index, slot, false, true);
      expect(roots).toHaveLength(layout.shards);
      // Lose two data pieces: the worker must rebuild them from parity.
      const present = [false, true, false, true, true, true];
      pool.ring.piece(slot, 0, layout.pieceSize(index)).fill(0);
      pool.ring.piece(slot, 2, layout.pieceSize(index)).fill(0);
      // The plaintext lands where asked: at the slot's start, where the pieces start (in
      // place), or anywhere between (left of the sealed bytes it is opened from).
      const shift = [0, 1234, pool.ring.layout.head][index % 3]!;
      expect(await pool.decode(index, slot, present, shift)).toBe(true);
      return Buffer.from(pool.ring.slot(slot).subarray(shift, shift + segment.length));
    } finally {
      pool.ring.release(slot);
    }
  }

  it("keeps coding after it grows and shrinks between passes", async () => {
    const plain = randomBytes(layout.size);
    const pool = new CodecPool(fileKey, fileId, layout, { threads: 1, slots: 6 });
    try {
      await pool.resize(3);
      expect(pool.depth).toBe(4);
      const first = await Promise.all([0, 1, 2].map((i) => roundTrip(pool, plain, i)));
      expect(Buffer.concat(first).equals(plain)).toBe(true);
      // The workers stopped here must not count as failures.
      await pool.resize(1);
      expect(pool.depth).toBe(2);
      expect((await roundTrip(pool, plain, 1)).equals(plain.subarray(65_520, 131_040))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("does the work on the calling thread when it has no workers", async () => {
    const plain = randomBytes(layout.size);
    const pool = new CodecPool(fileKey, fileId, layout, { threads: 0 });
    try {
      await pool.resize(2);
      expect(pool.depth).toBe(1);
      const all = await Promise.all([0, 1, 2].map((i) => roundTrip(pool, plain, i)));
      expect(Buffer.concat(all).equals(plain)).toBe(true);
    } finally {
      await pool.close();
    }
    await expect(pool.decode(0, 0, [true, true, true, true, true, true], 0)).rejects.toThrow(
      "closed",
    );
  });

  it("stops workers that are still starting without bringing the process down", async () => {
    // A worker stopped while its native Reed-Solomon addon loads used to abort the whole
    // process (an assertion in the addon): a tiny upload shrinks its pool at once.
    for (let round = 0; round < 8; round++) {
      const pool = new CodecPool(fileKey, fileId, layout, { threads: 3 });
      await pool.resize(1);
      await pool.close();
    }
    const pool = new CodecPool(fileKey, fileId, layout, { threads: 2 });
    try {
      const plain = randomBytes(layout.size);
      expect((await roundTrip(pool, plain, 0)).equals(plain.subarray(0, 65_520))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("never keeps more segments in flight than its ring can hold with two slots free", async () => {
    const pool = new CodecPool(fileKey, fileId, layout, { threads: 1 });
    try {
      expect(pool.ring.slots).toBe(4);
      await pool.resize(4);
      expect(pool.depth).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it("refuses to resize while work is pending", async () => {
    const pool = new CodecPool(fileKey, fileId, layout, { threads: 2 });
    try {
      const slot = await pool.ring.acquire();
      const coding = pool.encode(0, slot, false, false);
      await expect(pool.resize(1)).rejects.toThrow(/no work pending/);
      await coding;
      await pool.resize(1);
    } finally {
      await pool.close();
    }
  });
});
