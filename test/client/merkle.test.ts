import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { network } from "hardhat";
import { describe, expect, it } from "vitest";
import {
  alignedSubtreeRoot,
  hasNativeHashtree,
  LEAF_SIZE,
  leafCount,
  leafHash,
  MerkleBuilder,
  merklePath,
  merkleRoot,
  rootFromPath,
  rootOfHashes,
} from "../../client/protocol/merkle.ts";
import { newFileId } from "../../client/protocol/shard-id.ts";
import { referenceRoot, sha } from "../helpers/merkle-reference.ts";

describe("SHA-256 Merkle tree over 4 KiB leaves", () => {
  it("gives the plain reference root whatever the size and however the bytes are chunked", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 * LEAF_SIZE + 5 }),
        fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1 }),
        (size, cuts) => {
          const data = randomBytes(size);
          const builder = new MerkleBuilder();
          let offset = 0;
          for (let i = 0; offset < size; i++) {
            const step = cuts[i % cuts.length]!;
            builder.update(data.subarray(offset, offset + step));
            offset += step;
          }
          expect(builder.digest().equals(referenceRoot(data))).toBe(true);
          expect(builder.size).toBe(size);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gives the reference root and every leaf hash across many 1 MiB batches of leaves", () => {
    // A builder hashes the parents of each run of 256 aligned leaves a level at a time
    // (hashtree's native binding here); mixed with subtrees appended whole (at heights
    // below and above a batch's), sizes across batch edges, and chunks of any length.
    // Its binding comes prebuilt for these platforms (elsewhere Node's SHA-256 does it).
    const prebuilt = ["linux-x64", "linux-arm64", "darwin-arm64", "win32-x64"];
    expect(hasNativeHashtree()).toBe(prebuilt.includes(`${process.platform}-${process.arch}`));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * 256 * LEAF_SIZE + 3 * LEAF_SIZE + 9 }),
        fc.array(fc.integer({ min: 1, max: 600_000 }), { minLength: 1, maxLength: 5 }),
        fc.option(fc.record({ at: fc.nat(700), height: fc.integer({ min: 0, max: 9 }) })),
        (size, cuts, appended) => {
          const data = randomBytes(size);
          const leaves: Buffer[] = [];
          const builder = new MerkleBuilder((hash) => leaves.push(Buffer.from(hash)));
          let offset = 0;
          let appendedAt: { from: number; to: number } | undefined;
          for (let i = 0; offset < size; i++) {
            const leaf = offset / LEAF_SIZE;
            const pieceSize = 2 ** (appended?.height ?? 0) * LEAF_SIZE;
            if (
              appended &&
              appendedAt === undefined &&
              leaf >= appended.at &&
              builder.isAlignedTo(appended.height) &&
              offset + pieceSize <= size
            ) {
              const subtree = alignedSubtreeRoot(data.subarray(offset, offset + pieceSize))!;
              builder.appendSubtree(subtree.root, subtree.height);
              appendedAt = { from: leaf, to: leaf + 2 ** appended.height };
              offset += pieceSize;
              continue;
            }
            const step = cuts[i % cuts.length]!;
            builder.update(data.subarray(offset, Math.min(size, offset + step)));
            offset = Math.min(size, offset + step);
          }
          expect(builder.digest().equals(referenceRoot(data))).toBe(true);
          // Every leaf hash in order, but those of the appended subtree (hashed elsewhere).
          const expected: Buffer[] = [];
          for (let i = 0; i < leafCount(size); i++) {
            if (appendedAt && i >= appendedAt.from && i < appendedAt.to) continue;
            expected.push(sha(data.subarray(i * LEAF_SIZE, (i + 1) * LEAF_SIZE)));
          }
          expect(Buffer.concat(leaves).equals(Buffer.concat(expected))).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("proves every leaf with a path that leads back to the root", async () => {
    const data = randomBytes(11 * LEAF_SIZE + 100);
    const hashes: Buffer[] = [];
    const builder = new MerkleBuilder((hash) => hashes.push(Buffer.from(hash)));
    builder.update(data);
    const root = builder.digest();
    for (let leaf = 0; leaf < hashes.length; leaf++) {
      const path = await merklePath(Buffer.concat(hashes), leaf);
      const bytes = data.subarray(leaf * LEAF_SIZE, (leaf + 1) * LEAF_SIZE);
      expect(rootFromPath(leafHash(bytes), leaf, path).equals(root)).toBe(true);
      expect(rootFromPath(leafHash(Buffer.from("forged")), leaf, path).equals(root)).toBe(false);
    }
  });

  it("gives the same root when aligned pieces are appended by their subtree roots", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 2 * LEAF_SIZE + 7 }),
        (height, pieces, tail) => {
          // As the client roots a shard: whole pieces of 2^height leaves, then a short end.
          const pieceSize = 2 ** height * LEAF_SIZE;
          const data = randomBytes(pieces * pieceSize + tail);
          const builder = new MerkleBuilder();
          for (let i = 0; i < pieces; i++) {
            const subtree = alignedSubtreeRoot(data.subarray(i * pieceSize, (i + 1) * pieceSize));
            expect(subtree?.height).toBe(height);
            builder.appendSubtree(subtree!.root, subtree!.height);
          }
          builder.update(data.subarray(pieces * pieceSize));
          expect(builder.digest().equals(referenceRoot(data))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
    const builder = new MerkleBuilder();
    builder.update(Buffer.alloc(100));
    expect(() => builder.appendSubtree(Buffer.alloc(32), 0)).toThrow(RangeError);
  });

  it("proves every leaf of trees of every width up to 40 leaves", async () => {
    for (let leaves = 1; leaves <= 40; leaves++) {
      const data = randomBytes(leaves * LEAF_SIZE);
      const hashes = Array.from({ length: leaves }, (_, i) =>
        leafHash(data.subarray(i * LEAF_SIZE, (i + 1) * LEAF_SIZE)),
      );
      const root = referenceRoot(data);
      for (let leaf = 0; leaf < leaves; leaf++) {
        const path = await merklePath(Buffer.concat(hashes), leaf, 3);
        expect(rootFromPath(hashes[leaf]!, leaf, path).equals(root)).toBe(true);
      }
    }
  });

  it("computes the same shards root as FileRegistry's MerkleSha256 library on chain", async () => {
    const { ethers } = await network.connect();
    const signers = await ethers.getSigners();
    const nodes = await ethers.deployContract("NodeRegistry", [0n, 0n]);
    const files = await ethers.deployContract("FileRegistry", [await nodes.getAddress()]);
    await (await nodes.connect(signers[1]!).register("http://127.0.0.1:1", 1n, 0n)).wait();
    for (const shards of [2, 3, 6, 7, 24]) {
      const roots = Array.from({ length: shards }, () => randomBytes(32));
      const fileId = newFileId(signers[0]!.address);
      await (
        await files.registerFile({
          fileId,
          size: 1n,
          segmentSize: 1,
          k: Math.min(shards - 1, 23),
          m: 1,
          shardRoots: roots,
          placements: Array(shards).fill(1),
          wrappedKey: randomBytes(98),
        })
      ).wait();
      const [record] = await files.getFile(fileId);
      expect(record.shardsRoot).toBe(`0x${rootOfHashes(roots).toString("hex")}`);
    }
    expect(merkleRoot(Buffer.alloc(0)).equals(sha(Buffer.alloc(0)))).toBe(true);
  });
});
