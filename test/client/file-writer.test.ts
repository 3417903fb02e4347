import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  ALIGNED_BLOCK_SIZE,
  alignedBlocks,
  LARGE_ALIGNED_BLOCK_SIZE,
  sharedWasmMemory,
} from "../../client/data-path/aligned-blocks.ts";
import { FileWriter } from "../../client/data-path/file-writer.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";

/** Write `chunks` with a new writer and return what the file then holds. */
async function writeChunks(
  path: string,
  chunks: Buffer[],
  direct: boolean,
  durable = true,
  blockSize = ALIGNED_BLOCK_SIZE,
): Promise<Buffer> {
  const writer = await FileWriter.create(path, { direct, depth: 3, durable, blockSize });
  for (const chunk of chunks) await writer.write(chunk);
  await writer.finish();
  return readFile(path);
}

describe("FileWriter", () => {
  afterAll(removeTempDirs);

  it("bypasses the page cache on Linux unless told not to", async () => {
    const dir = await tempDir("dstore-writer-");
    const direct = await FileWriter.create(join(dir, "a"));
    const buffered = await FileWriter.create(join(dir, "b"), { direct: false });
    expect(direct.direct).toBe(process.platform === "linux");
    expect(buffered.direct).toBe(false);
    await Promise.all([direct.finish(), buffered.finish()]);
  });

  it("takes pushed bytes at once while a block is free, and gives a promise only when it must wait", async () => {
    const dir = await tempDir("dstore-writer-");
    const writer = await FileWriter.create(join(dir, "pushed"), { depth: 2 });
    const data = randomBytes(3 * ALIGNED_BLOCK_SIZE + 100);
    const small = 64 * 1024 + 3;
    const waits: boolean[] = [];
    for (let at = 0; at < data.length; at += small) {
      const pending = writer.push(data.subarray(at, at + small));
      waits.push(pending !== undefined);
      await pending;
    }
    await writer.finish();
    expect(waits.slice(0, 8)).toEqual(Array(8).fill(false));
    expect(waits).toContain(true);
    expect((await readFile(join(dir, "pushed"))).equals(data)).toBe(true);
  });

  it("lets a reader fill its blocks in place (room, filledRoom), mixed with pushed bytes, and says when it has no room", async () => {
    const dir = await tempDir("dstore-writer-");
    const writer = await FileWriter.create(join(dir, "placed"), { depth: 2 });
    const data = randomBytes(4 * ALIGNED_BLOCK_SIZE + 1000);
    let noRoom = 0;
    for (let at = 0, turn = 0; at < data.length; turn++) {
      const piece = Math.min(data.length - at, ALIGNED_BLOCK_SIZE / 2 + 3);
      // Pushes between runs of fills with no await: those find both blocks being written.
      if (turn % 6 === 5) {
        await writer.push(data.subarray(at, at + piece));
        at += piece;
        continue;
      }
      let room = writer.room();
      if (!room) {
        noRoom++;
        await writer.roomFreed();
        room = writer.room()!;
      }
      const take = Math.min(piece, room.length);
      data.copy(room, 0, at, at + take);
      writer.filledRoom(take);
      at += take;
    }
    expect(() => {
      const room = writer.room()!;
      writer.filledRoom(room.length + 1);
    }).toThrow(RangeError);
    await writer.finish();
    expect(noRoom).toBeGreaterThan(0);
    expect((await readFile(join(dir, "placed"))).equals(data)).toBe(true);
  });

  it.each([
    [true, true, ALIGNED_BLOCK_SIZE],
    [false, true, ALIGNED_BLOCK_SIZE],
    [true, false, ALIGNED_BLOCK_SIZE],
    [true, true, 128 * 1024],
  ])(
    "writes any chunks, of any sizes, back to back into exactly those bytes (direct: %s, durable: %s, blocks of %i bytes)",
    async (direct, durable, block) => {
      const dir = await tempDir("dstore-writer-");
      const sizes = fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 5000 }),
          fc.constantFrom(4095, 4096, 4097, block - 1, block, block + 1, 3 * block + 17),
        ),
        { maxLength: 8 },
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(sizes, async (lengths) => {
          const chunks = lengths.map((length) => randomBytes(length));
          const path = join(dir, `file-${run++}`);
          const written = await writeChunks(path, chunks, direct, durable, block);
          expect(written.equals(Buffer.concat(chunks))).toBe(true);
        }),
        { numRuns: 25 },
      );
    },
  );

  it.each([
    [true, true],
    [false, false],
    [true, false],
  ])(
    "writes bytes placed in the caller's memory, in overlapping calls, into exactly those bytes (direct: %s, durable: %s)",
    async (direct, durable) => {
      const dir = await tempDir("dstore-writer-");
      // Page-aligned regions, as a get's ring slots are, each used by one call at a time.
      const regionSize = 64 * 1024;
      const memory = sharedWasmMemory(8, 8).buffer;
      const sizes = fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 10_000 }),
          fc.constantFrom(1, 4095, 4096, 4097, regionSize - 4096),
        ),
        { maxLength: 12 },
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(sizes, async (lengths) => {
          const path = join(dir, `file-${run++}`);
          const writer = await FileWriter.create(path, { direct, durable });
          const chunks = lengths.map((length) => randomBytes(length));
          const writes: Promise<void>[] = [];
          let offset = 0;
          for (const [i, chunk] of chunks.entries()) {
            // A region is reused only once its write is done; up to 8 overlap.
            await writes[i - 8];
            const region = Buffer.from(memory, (i % 8) * regionSize, regionSize);
            region.fill(0xee);
            const shift = writer.placedShift(offset);
            region.set(chunk, shift);
            writes.push(writer.writePlaced(region, chunk.length));
            offset += chunk.length;
          }
          await Promise.all(writes);
          await writer.finish();
          expect((await readFile(path)).equals(Buffer.concat(chunks))).toBe(true);
        }),
        { numRuns: 25 },
      );
    },
  );

  it("takes bytes one way per file: copied, or placed", async () => {
    const dir = await tempDir("dstore-writer-");
    const block = alignedBlocks.take();
    const copying = await FileWriter.create(join(dir, "a"));
    const placing = await FileWriter.create(join(dir, "b"));
    try {
      await copying.write(Buffer.from("x"));
      expect(() => copying.writePlaced(block, 1)).toThrow("not after write()");
      block[0] = 1;
      await placing.writePlaced(block, 1);
      await expect(placing.write(Buffer.from("x"))).rejects.toThrow("not after writePlaced()");
    } finally {
      alignedBlocks.give(block);
    }
    await Promise.all([copying.abort(), placing.abort()]);
  });

  it("takes the caller's bytes by copy: a buffer reused at once does not change the file", async () => {
    const dir = await tempDir("dstore-writer-");
    const writer = await FileWriter.create(join(dir, "file"));
    const scratch = Buffer.alloc(100_000);
    const expected: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      scratch.fill(i);
      expected.push(Buffer.from(scratch));
      await writer.write(scratch);
    }
    await writer.finish();
    expect((await readFile(join(dir, "file"))).equals(Buffer.concat(expected))).toBe(true);
  });

  it("refuses to replace a file that exists", async () => {
    const dir = await tempDir("dstore-writer-");
    await writeFile(join(dir, "file"), "keep me");
    await expect(FileWriter.create(join(dir, "file"))).rejects.toMatchObject({ code: "EEXIST" });
    expect(await readFile(join(dir, "file"), "utf8")).toBe("keep me");
  });

  it("fails with ENOSPC when the disk fills, and every later write fails too", async () => {
    const disk = mountTmpfs("1m");
    try {
      const writer = await FileWriter.create(join(disk.dir, "file"));
      const chunk = randomBytes(256 * 1024);
      const writing = (async () => {
        for (let i = 0; i < 8; i++) await writer.write(chunk);
        await writer.finish();
      })();
      await expect(writing).rejects.toMatchObject({ code: "ENOSPC" });
      await expect(writer.write(chunk)).rejects.toThrow();
      await writer.abort();
      expect(await readdir(disk.dir)).toEqual(["file"]);
    } finally {
      disk.unmount();
    }
  });

  it("fails a write still copying when it is aborted, and a finish after an abort, writing nothing", async () => {
    const dir = await tempDir("dstore-writer-");
    const writer = await FileWriter.create(join(dir, "file"), { depth: 2 });
    const failed = expect(writer.write(randomBytes(8 * ALIGNED_BLOCK_SIZE))).rejects.toThrow(
      "closed",
    );
    await writer.abort();
    await failed;
    await expect(writer.finish()).rejects.toThrow("closed");
    // What was copied into blocks but not yet written stays unwritten: the file is short.
    expect((await readFile(join(dir, "file"))).length).toBeLessThan(8 * ALIGNED_BLOCK_SIZE);
  });

  it("gives its blocks back: many writers one after the other use no more memory than one of each block size", async () => {
    const dir = await tempDir("dstore-writer-");
    const data = randomBytes(3 * ALIGNED_BLOCK_SIZE);
    const sizes = [ALIGNED_BLOCK_SIZE, LARGE_ALIGNED_BLOCK_SIZE];
    for (const blockSize of sizes) {
      await writeChunks(join(dir, `first-${blockSize}`), [data], true, true, blockSize);
    }
    const after = alignedBlocks.allocated;
    for (let i = 0; i < 20; i++) {
      const writer = await FileWriter.create(join(dir, `file-${i}`), {
        depth: 3,
        blockSize: sizes[i % 2]!,
      });
      await writer.write(data);
      if (i % 2 === 0) await writer.finish();
      else await writer.abort();
    }
    expect(alignedBlocks.allocated).toBe(after);
  });

  it("refuses a block size that is not a multiple of 64 KiB", async () => {
    expect(() => alignedBlocks.take(100_000)).toThrow(RangeError);
    expect(() => alignedBlocks.take(0)).toThrow(RangeError);
  });
});
