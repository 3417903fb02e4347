import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { SegmentCipher } from "../../client/crypto/segment-cipher.ts";
import { openSegmentSource, type SegmentSource } from "../../client/data-path/segment-source.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";

/** Every segment of a source, sealed (as the upload pipeline sees them). */
async function sealedSegments(source: SegmentSource, cipher: SegmentCipher): Promise<Buffer[]> {
  await source.begin();
  const out: Buffer[] = [];
  for (let i = 0; i < source.layout.segments; i++) {
    const target = Buffer.alloc(source.layout.cipherLength(i));
    await source.readInto(i, target);
    const data = target.subarray(
      0,
      source.sealed ? source.layout.cipherLength(i) : source.layout.plainLength(i),
    );
    out.push(source.sealed ? data : cipher.seal(data, i, source.layout.isLast(i)));
  }
  return out;
}

describe("segment sources", () => {
  afterAll(removeTempDirs);
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));

  it.each([0, 1, 999, 1000, 1001, 4567])(
    "give the same sealed segments for a %i-byte file and stream, on every pass",
    async (size) => {
      const dir = await tempDir("dstore-src-");
      const data = randomBytes(size);
      const path = join(dir, "file");
      await writeFile(path, data);
      const options = { cipher, segmentSize: 1000, k: 2, m: 1, spoolDir: dir };
      const fromFile = await openSegmentSource(path, options);
      const chunks = Readable.from([
        data.subarray(0, 3),
        data.subarray(3, 1500),
        data.subarray(1500),
      ]);
      const fromStream = await openSegmentSource(chunks, options);
      expect(fromStream.layout.size).toBe(size);
      const a = await sealedSegments(fromFile, cipher);
      const b = await sealedSegments(fromStream, cipher);
      expect(a.length).toBe(fromFile.layout.segments);
      expect(Buffer.concat(a).equals(Buffer.concat(b))).toBe(true);
      expect(Buffer.concat(await sealedSegments(fromFile, cipher)).equals(Buffer.concat(a))).toBe(
        true,
      );
      const opened = a.map((sealed, i) => cipher.open(sealed, i, i === a.length - 1));
      expect(Buffer.concat(opened).equals(data)).toBe(true);
      await Promise.all([fromFile.close(), fromStream.close()]);
      expect((await readdir(dir)).filter((name) => name.startsWith("dstore-spool-"))).toEqual([]);
    },
  );

  it("keeps no plaintext in the spool file of a stream", async () => {
    const dir = await tempDir("dstore-src-");
    const data = Buffer.alloc(5000, "plaintext!");
    const source = await openSegmentSource(Readable.from([data]), {
      cipher,
      segmentSize: 1000,
      k: 2,
      m: 1,
      spoolDir: dir,
    });
    const [spool] = (await readdir(dir)).filter((name) => name.startsWith("dstore-spool-"));
    expect((await readFile(join(dir, spool!))).includes(Buffer.from("plaintext!"))).toBe(false);
    await source.close();
  });

  it("fails and keeps no spool when the spool's disk fills in its last segment", async () => {
    // Three 300 KB segments fit a 1 MiB disk; the last one's write takes fewer bytes than
    // asked without an error, and only a further write would fail.
    const disk = mountTmpfs("1m");
    try {
      const stream = Readable.from([randomBytes(1_100_000)]);
      await expect(
        openSegmentSource(stream, {
          cipher,
          segmentSize: 300_000,
          k: 2,
          m: 1,
          spoolDir: disk.dir,
        }),
      ).rejects.toThrow();
      expect(await readdir(disk.dir)).toEqual([]);
    } finally {
      disk.unmount();
    }
  });

  it("fails with InvalidArgument when the file changes between passes", async () => {
    const dir = await tempDir("dstore-src-");
    const path = join(dir, "file");
    await writeFile(path, randomBytes(3000));
    const source = await openSegmentSource(path, { cipher, segmentSize: 1000, k: 2, m: 1 });
    await sealedSegments(source, cipher);
    await writeFile(path, randomBytes(3500));
    await expect(sealedSegments(source, cipher)).rejects.toMatchObject({ name: "InvalidArgument" });
    await source.close();
  });

  it("fails with FileNotFound for a missing file", async () => {
    await expect(
      openSegmentSource("/nonexistent/dstore", { cipher, segmentSize: 1000, k: 2, m: 1 }),
    ).rejects.toMatchObject({
      name: "FileNotFound",
    });
  });
});
