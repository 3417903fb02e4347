import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { referenceRoot } from "../helpers/merkle-reference.ts";

// Where @chainsafe/hashtree's binding does not load, a Merkle builder hashes each parent
// with Node's SHA-256. This platform has the binding: DSTORE_NATIVE_HASHTREE=0 takes the
// fallback, read once, when first asked (each test file has its own modules).
process.env.DSTORE_NATIVE_HASHTREE = "0";
const { hasNativeHashtree, LEAF_SIZE, MerkleBuilder } = await import(
  "../../client/protocol/merkle.ts"
);
const native = hasNativeHashtree();
delete process.env.DSTORE_NATIVE_HASHTREE;

describe("SHA-256 Merkle tree without hashtree's binding (Node's SHA-256 for parents)", () => {
  it("gives the reference root across 1 MiB batches of leaves, however chunked", () => {
    expect(native).toBe(false);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * 256 * LEAF_SIZE + 5 * LEAF_SIZE + 3 }),
        fc.integer({ min: 1, max: 700_000 }),
        (size, step) => {
          const data = randomBytes(size);
          const builder = new MerkleBuilder();
          for (let offset = 0; offset < size; offset += step)
            builder.update(data.subarray(offset, offset + step));
          expect(builder.digest().equals(referenceRoot(data))).toBe(true);
        },
      ),
      { numRuns: 10 },
    );
  });
});
