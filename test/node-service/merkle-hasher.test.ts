import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ALIGNED_BLOCK_SIZE, alignedBlocks } from "../../client/data-path/aligned-blocks.ts";
import { MerkleBuilder } from "../../client/protocol/merkle.ts";
import { MerkleHasher } from "../../node-service/merkle-hasher.ts";

describe("MerkleHasher", () => {
  const hasher = new MerkleHasher();
  afterAll(() => hasher.close());

  it("gives the root and leaf hashes MerkleBuilder gives, for blocks of any lengths, uploads interleaved", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: ALIGNED_BLOCK_SIZE }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: ALIGNED_BLOCK_SIZE }), { minLength: 1, maxLength: 4 }),
        async (first, second) => {
          const uploads = [first, second].map((lengths) => ({
            lengths,
            bytes: lengths.map((length) => randomBytes(length)),
            job: hasher.job(),
            leaves: [] as Buffer[],
          }));
          // Blocks of both uploads go to the worker alternately, each from its own block.
          const blocks = uploads.map(() => alignedBlocks.take());
          try {
            for (let i = 0; i < 4; i++) {
              for (const [u, upload] of uploads.entries()) {
                const bytes = upload.bytes[i];
                if (!bytes) continue;
                bytes.copy(blocks[u]!);
                upload.leaves.push(await upload.job.update(blocks[u]!.subarray(0, bytes.length)));
              }
            }
            for (const upload of uploads) {
              const { root, leaves } = await upload.job.digest();
              const expected: Buffer[] = [];
              const builder = new MerkleBuilder((leaf) => expected.push(Buffer.from(leaf)));
              for (const bytes of upload.bytes) builder.update(bytes);
              expect(root.equals(builder.digest())).toBe(true);
              expect(
                Buffer.concat([...upload.leaves, leaves]).equals(Buffer.concat(expected)),
              ).toBe(true);
            }
          } finally {
            for (const block of blocks) alignedBlocks.give(block);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("fails work asked of it once closed", async () => {
    const closing = new MerkleHasher();
    await closing.close();
    await expect(closing.job().digest()).rejects.toThrow("closed");
  });
});
