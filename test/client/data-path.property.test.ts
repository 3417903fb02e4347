import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SegmentCipher } from "../../client/crypto/segment-cipher.ts";
import { encodeSegment } from "../../client/data-path/segment-codec.ts";
import { recoverSegment } from "../../client/data-path/segment-recovery.ts";
import { isDstoreError } from "../../client/errors.ts";
import { FileLayout } from "../../client/protocol/layout.ts";

/** Encrypt and erasure-code `data` in memory: pieces[segment][shard]. */
async function encodeFile(data: Buffer, segmentSize: number, k: number, m: number) {
  const layout = new FileLayout({ size: data.length, segmentSize, k, m });
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));
  const pieces: Buffer[][] = [];
  for (let s = 0; s < layout.segments; s++) {
    const plain = data.subarray(s * segmentSize, s * segmentSize + layout.plainLength(s));
    pieces.push(await encodeSegment(layout, s, cipher.seal(plain, s, layout.isLast(s))));
  }
  return { layout, cipher, pieces };
}

/** Rebuild the file from the pieces of the shards not in `lost`. */
async function decodeFile(
  file: Awaited<ReturnType<typeof encodeFile>>,
  lost: ReadonlySet<number>,
): Promise<{ data: Buffer; corrupt: Set<number> }> {
  const out: Buffer[] = [];
  const corrupt = new Set<number>();
  for (let s = 0; s < file.layout.segments; s++) {
    const at = new Map<number, Buffer>();
    file.pieces[s]!.forEach((piece, index) => {
      if (!lost.has(index)) at.set(index, piece);
    });
    const recovered = await recoverSegment(file.layout, file.cipher, s, at);
    for (const index of recovered.corrupt) corrupt.add(index);
    out.push(recovered.plain);
  }
  return { data: Buffer.concat(out), corrupt };
}

/** Coding parameters, a segment size, and file sizes around the segment boundaries. */
const setup = fc
  .record({
    k: fc.integer({ min: 1, max: 8 }),
    m: fc.integer({ min: 1, max: 4 }),
    segmentSize: fc.integer({ min: 16, max: 4096 }),
  })
  .chain(
    (params) =>
      fc.record({
        ...Object.fromEntries(
          Object.entries(params).map(([key, value]) => [key, fc.constant(value)]),
        ),
        size: fc.oneof(
          fc.constantFrom(0, 1, params.segmentSize - 1, params.segmentSize, params.segmentSize + 1),
          fc.integer({ min: 0, max: 5 * params.segmentSize + 7 }),
        ),
      }) as fc.Arbitrary<{ k: number; m: number; segmentSize: number; size: number }>,
  );

describe("data path (encrypt, erasure-code, decode, decrypt)", () => {
  it("returns the same bytes for any size and any k/m with up to m shards lost or corrupted", async () => {
    const scenario = setup.chain((params) =>
      fc
        .shuffledSubarray([...Array(params.k + params.m).keys()], { maxLength: params.m })
        .chain((victims) =>
          fc.record({
            params: fc.constant(params),
            victims: fc.constant(victims),
            corruptCount: fc.integer({ min: 0, max: victims.length }),
            flipAt: fc.nat(),
          }),
        ),
    );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ params, victims, corruptCount, flipAt }) => {
        const { k, m, segmentSize, size } = params;
        const data = randomBytes(size);
        const file = await encodeFile(data, segmentSize, k, m);
        const corrupted = victims.slice(0, corruptCount);
        const lost = new Set(victims.slice(corruptCount));
        for (const shard of corrupted) {
          for (const segment of file.pieces) {
            const piece = Buffer.from(segment[shard]!);
            piece[flipAt % piece.length]! ^= 0x5a;
            segment[shard] = piece;
          }
        }
        const { data: back, corrupt } = await decodeFile(file, lost);
        expect(back.equals(data)).toBe(true);
        for (const index of corrupt) expect(corrupted).toContain(index);
      }),
      { numRuns: 200 },
    );
  });

  it("fails with NotEnoughShards when more than m shards are lost", async () => {
    await fc.assert(
      fc.asyncProperty(setup, async ({ k, m, segmentSize, size }) => {
        const file = await encodeFile(randomBytes(size), segmentSize, k, m);
        const lost = new Set([...Array(m + 1).keys()]);
        await expect(decodeFile(file, lost)).rejects.toSatisfy((error) =>
          isDstoreError(error, "NotEnoughShards"),
        );
      }),
      { numRuns: 40 },
    );
  });

  it("refuses tampered ciphertext when more than m shards are altered", async () => {
    const file = await encodeFile(randomBytes(10_000), 1000, 4, 2);
    for (const shard of [0, 1, 4])
      file.pieces[3]![shard] = Buffer.alloc(file.pieces[3]![shard]!.length, 7);
    await expect(decodeFile(file, new Set())).rejects.toSatisfy((error) =>
      isDstoreError(error, "IntegrityError"),
    );
  });

  it("refuses segments that were swapped, so reordering is detected", async () => {
    const file = await encodeFile(randomBytes(4000), 1000, 2, 1);
    [file.pieces[0], file.pieces[1]] = [file.pieces[1]!, file.pieces[0]!];
    await expect(decodeFile(file, new Set())).rejects.toSatisfy((error) =>
      isDstoreError(error, "IntegrityError"),
    );
  });

  it("refuses a file cut after a full segment, so truncation is detected", async () => {
    const data = randomBytes(3000);
    const file = await encodeFile(data, 1000, 2, 1);
    const short = {
      ...file,
      layout: new FileLayout({ size: 2000, segmentSize: 1000, k: 2, m: 1 }),
    };
    short.pieces = file.pieces.slice(0, 2);
    await expect(decodeFile(short, new Set())).rejects.toSatisfy((error) =>
      isDstoreError(error, "IntegrityError"),
    );
  });
});

describe("SegmentCipher", () => {
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));

  it("opens what it sealed", () => {
    const plain = randomBytes(777);
    expect(cipher.open(cipher.seal(plain, 5, false), 5, false).equals(plain)).toBe(true);
  });

  it("seals and opens in place, across slice boundaries, as the codec workers do", () => {
    fc.assert(
      // Opened up to a page left of the sealed bytes, as a get puts plaintext in place.
      fc.property(fc.integer({ min: 0, max: 200_000 }), fc.nat(4096), (size, left) => {
        const plain = randomBytes(size);
        const memory = Buffer.alloc(left + size + 16);
        const slot = memory.subarray(left);
        plain.copy(slot);
        expect(cipher.sealInto(slot.subarray(0, size), 3, true, slot)).toBe(size + 16);
        expect(slot.equals(cipher.seal(plain, 3, true))).toBe(true);
        expect(cipher.openInto(slot, 3, true, memory)).toBe(size);
        expect(memory.subarray(0, size).equals(plain)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("leaves zeros, not unverified plaintext, where a failed open wrote", () => {
    const slot = cipher.seal(randomBytes(200_000), 4, false);
    slot[10] = (slot[10]! + 1) % 256;
    expect(() => cipher.openInto(slot, 4, false, slot)).toThrow(
      expect.objectContaining({ name: "DecryptionError" }),
    );
    expect(slot.subarray(0, 200_000).every((byte) => byte === 0)).toBe(true);
  });

  it.each([
    ["another index", 6, false],
    ["the last-segment flag", 5, true],
  ])("refuses a segment opened under %s", (_what, index, last) => {
    const sealed = cipher.seal(randomBytes(100), 5, false);
    expect(() => cipher.open(sealed, index as number, last as boolean)).toThrow(
      expect.objectContaining({ name: "DecryptionError" }),
    );
  });

  it("refuses a segment sealed under another file id", () => {
    const key = randomBytes(32);
    const sealed = new SegmentCipher(key, randomBytes(32)).seal(randomBytes(10), 0, true);
    expect(() => new SegmentCipher(key, randomBytes(32)).open(sealed, 0, true)).toThrow(
      expect.objectContaining({ name: "DecryptionError" }),
    );
  });
});
