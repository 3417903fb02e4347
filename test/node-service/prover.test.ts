import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LEAF_SIZE, leafCount, leafHash, rootFromPath } from "../../client/protocol/merkle.ts";
import { Prover } from "../../node-service/prover.ts";
import { ShardStore } from "../../node-service/shard-store.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type ExampleShard, exampleShard, keepShard } from "../helpers/shard-examples.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

describe("Prover", () => {
  afterAll(removeTempDirs);

  let store: ShardStore;
  let prover: Prover;

  beforeAll(async () => {
    store = await ShardStore.open(await tempDir("dstore-prover-"), {
      capacity: 2 ** 30,
      maxShardSize: 2 ** 30,
      logger: silentLogger,
    });
    prover = new Prover(store);
  });

  async function stored(shard: ExampleShard): Promise<ExampleShard> {
    await keepShard(store, shard);
    return shard;
  }

  it("proves any leaf of any shard size: the leaf is the shard's bytes and its path leads to the root", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 9 * LEAF_SIZE + 10 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        async (size, at) => {
          const shard = await stored(exampleShard(size));
          const index = Math.floor(at * leafCount(size));
          const proof = await prover.prove(shard.shardId, index);
          expect(proof.leaf).toEqual(
            shard.body.subarray(index * LEAF_SIZE, (index + 1) * LEAF_SIZE),
          );
          expect(proof).toMatchObject({ root: shard.root, size, leafIndex: index });
          const root = rootFromPath(leafHash(proof.leaf), index, proof.path);
          expect(`0x${root.toString("hex")}`).toBe(shard.root);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("proves every leaf of a shard whose leaf count is not a power of two", async () => {
    const shard = await stored(exampleShard(5 * LEAF_SIZE + 1));
    for (let index = 0; index < 6; index++) {
      const proof = await prover.prove(shard.shardId, index);
      expect(proof.path).toHaveLength(3);
      expect(`0x${rootFromPath(leafHash(proof.leaf), index, proof.path).toString("hex")}`).toBe(
        shard.root,
      );
    }
  });

  it("refuses a leaf outside the shard (InvalidRequest)", async () => {
    const shard = await stored(exampleShard(2 * LEAF_SIZE));
    for (const index of [2, -1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
      await expect(prover.prove(shard.shardId, index)).rejects.toMatchObject({
        name: "InvalidRequest",
      });
    }
  });

  it("refuses a shard it does not store (ShardNotFound)", async () => {
    await expect(prover.prove(exampleShard(1).shardId, 0)).rejects.toMatchObject({
      name: "ShardNotFound",
    });
  });
});
