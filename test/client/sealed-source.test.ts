import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { SegmentCipher } from "../../client/crypto/segment-cipher.ts";
import { openSealedSource } from "../../client/data-path/sealed-source.ts";

async function collect(iterable: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("sealed sources", () => {
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));

  it.each([0, 1, 999, 1000, 1001, 4567])(
    "seal a %i-byte file and the same stream identically, on every pass",
    async (size) => {
      const dir = await mkdtemp(join(tmpdir(), "dstore-src-"));
      const data = randomBytes(size);
      const path = join(dir, "file");
      await writeFile(path, data);
      const options = { cipher, segmentSize: 1000, k: 2, m: 1, spoolDir: dir };
      const fromFile = await openSealedSource(path, options);
      const chunks = Readable.from([
        data.subarray(0, 3),
        data.subarray(3, 1500),
        data.subarray(1500),
      ]);
      const fromStream = await openSealedSource(chunks, options);
      expect(fromStream.layout.size).toBe(size);
      const a = await collect(fromFile.segments());
      const b = await collect(fromStream.segments());
      expect(a.length).toBe(fromFile.layout.segments);
      expect(Buffer.concat(a).equals(Buffer.concat(b))).toBe(true);
      expect(Buffer.concat(await collect(fromStream.segments())).equals(Buffer.concat(b))).toBe(
        true,
      );
      const opened = a.map((sealed, i) => cipher.open(sealed, i, i === a.length - 1));
      expect(Buffer.concat(opened).equals(data)).toBe(true);
      await fromStream.close();
      expect((await readdir(dir)).filter((name) => name.startsWith("dstore-spool-"))).toEqual([]);
    },
  );

  it("keeps no plaintext in the spool file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dstore-src-"));
    const data = Buffer.alloc(5000, "plaintext!");
    const source = await openSealedSource(Readable.from([data]), {
      cipher,
      segmentSize: 1000,
      k: 2,
      m: 1,
      spoolDir: dir,
    });
    const [spool] = (await readdir(dir)).filter((name) => name.startsWith("dstore-spool-"));
    const { readFile } = await import("node:fs/promises");
    expect((await readFile(join(dir, spool!))).includes(Buffer.from("plaintext!"))).toBe(false);
    await source.close();
  });

  it("fails with InvalidArgument when the file changes between passes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dstore-src-"));
    const path = join(dir, "file");
    await writeFile(path, randomBytes(3000));
    const source = await openSealedSource(path, { cipher, segmentSize: 1000, k: 2, m: 1 });
    await collect(source.segments());
    await writeFile(path, randomBytes(3500));
    await expect(collect(source.segments())).rejects.toMatchObject({ name: "InvalidArgument" });
  });

  it("fails with FileNotFound for a missing file", async () => {
    await expect(
      openSealedSource("/nonexistent/dstore", { cipher, segmentSize: 1000, k: 2, m: 1 }),
    ).rejects.toMatchObject({
      name: "FileNotFound",
    });
  });
});
