import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Chain } from "../../client/chain/contracts.ts";
import { ChainWatcher, type ChainWatcherOptions } from "../../node-service/chain-watcher.ts";
import { ensureRegistered } from "../../node-service/registration.ts";
import { ShardStore } from "../../node-service/shard-store.ts";
import { asAccount, connectAs, deleteFile, registerFile } from "../helpers/chain-files.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { eventually } from "../helpers/poll.ts";
import {
  type ExampleShard,
  exampleShard,
  keepShard,
  randomFileId,
} from "../helpers/shard-examples.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

const OWNER = 0;
const quiet = silentLogger;

describe("ChainWatcher", () => {
  let chain: LocalChain;
  let operator: Chain;
  let nodeA: number;
  let nodeB: number;
  let dir: string;
  let store: ShardStore;

  beforeAll(async () => {
    chain = await startLocalChain();
    operator = await connectAs(chain, 1);
    const terms = { endpoint: "http://127.0.0.1:1", capacity: 2 ** 30, price: 1n };
    nodeA = await ensureRegistered(operator, terms, quiet);
    nodeB = await asAccount(chain, 2, (other) =>
      ensureRegistered(other, { ...terms, endpoint: "http://127.0.0.1:2" }, quiet),
    );
  });

  afterAll(async () => {
    operator?.provider.destroy();
    await chain?.stop();
    await removeTempDirs();
  });

  beforeEach(async () => {
    dir = await tempDir("dstore-watcher-");
    store = await ShardStore.open(dir, { capacity: 2 ** 30, maxShardSize: 2 ** 30, logger: quiet });
  });

  function watcher(options: Partial<ChainWatcherOptions> = {}): ChainWatcher {
    return new ChainWatcher({
      chain: operator,
      store,
      nodeId: nodeA,
      stateFile: join(dir, "chain-state.json"),
      logger: quiet,
      ...options,
    });
  }

  /** Put `shard` in this node's store. */
  async function keep(shard: ExampleShard): Promise<void> {
    await keepShard(store, shard, operator.wallet!.address);
  }

  /** Two shards of a new file, kept by this node's store. */
  async function keptFile(): Promise<[ExampleShard, ExampleShard]> {
    const fileId = randomFileId();
    const shards: [ExampleShard, ExampleShard] = [
      exampleShard(3000, { fileId, shardIndex: 0 }),
      exampleShard(3000, { fileId, shardIndex: 1 }),
    ];
    for (const shard of shards) await keep(shard);
    return shards;
  }

  const kept = (shard: ExampleShard) => store.get(shard.shardId) !== undefined;

  it("drops the shards of a file deleted on chain and keeps those of other files", async () => {
    const deleted = await keptFile();
    const other = await keptFile();
    for (const file of [deleted, other]) {
      await registerFile(chain, OWNER, file[0].fileId, [
        { root: file[0].root, nodeId: nodeA },
        { root: file[1].root, nodeId: nodeA },
      ]);
    }
    const w = watcher();
    await w.poll();
    expect([...deleted, ...other].map(kept)).toEqual([true, true, true, true]);

    await deleteFile(chain, OWNER, deleted[0].fileId);
    // The provider caches the head block for a moment: poll until the new block is seen.
    await eventually(async () => {
      await w.poll();
      return !kept(deleted[0]);
    });

    expect([...deleted, ...other].map(kept)).toEqual([false, false, true, true]);
    expect(store.used).toBe(2 * 3000);
  });

  it("drops a shard the owner moved to another node and keeps its sibling", async () => {
    const [stays, moves] = await keptFile();
    await registerFile(chain, OWNER, stays.fileId, [
      { root: stays.root, nodeId: nodeA },
      { root: moves.root, nodeId: nodeA },
    ]);
    const w = watcher();
    await w.poll();
    await asAccount(chain, OWNER, async ({ fileRegistry }) => {
      await (await fileRegistry.reassignShard(stays.fileId, 1, nodeB)).wait();
    });
    await eventually(async () => {
      await w.poll();
      return !kept(moves);
    });
    expect([kept(stays), kept(moves)]).toEqual([true, false]);
  });

  it("sweeps shards past the grace period that the chain does not place on this node", async () => {
    const [placedHere, placedElsewhere] = await keptFile();
    const [neverRegistered] = await keptFile();
    await registerFile(chain, OWNER, placedHere.fileId, [
      { root: placedHere.root, nodeId: nodeA },
      { root: placedElsewhere.root, nodeId: nodeB },
    ]);
    await watcher({ orphanGrace: 0 }).sweepOrphans();
    expect([kept(placedHere), kept(placedElsewhere), kept(neverRegistered)]).toEqual([
      true,
      false,
      false,
    ]);
  });

  it("keeps shards younger than the grace period even when the chain does not know them", async () => {
    const [young] = await keptFile();
    await watcher().sweepOrphans();
    expect(kept(young)).toBe(true);
  });

  it("follows the chain once started: a deletion is noticed without being asked", async () => {
    const file = await keptFile();
    await registerFile(chain, OWNER, file[0].fileId, [
      { root: file[0].root, nodeId: nodeA },
      { root: file[1].root, nodeId: nodeA },
    ]);
    const w = watcher({ interval: 50 });
    await w.start();
    try {
      await deleteFile(chain, OWNER, file[0].fileId);
      await eventually(() => !kept(file[0]) && !kept(file[1]), { what: "the shards dropped" });
    } finally {
      await w.stop();
    }
  });

  it("saves the last block it handled and resumes there after a restart", async () => {
    const early = await keptFile();
    await registerFile(chain, OWNER, early[0].fileId, [
      { root: early[0].root, nodeId: nodeA },
      { root: early[1].root, nodeId: nodeA },
    ]);
    await deleteFile(chain, OWNER, early[0].fileId);
    const first = watcher();
    await first.start();
    await first.stop();
    const head = await operator.provider.getBlockNumber();
    const saved = JSON.parse(await readFile(join(dir, "chain-state.json"), "utf8"));
    expect(saved).toEqual({ lastBlock: head });

    expect(kept(early[0])).toBe(false);

    // The shard of that long-deleted file turns up again: a resumed watcher does not rescan
    // the old deletion (clearing such shards is the orphan sweep's job).
    await keep(early[0]);
    const resumed = watcher();
    await resumed.start();
    await resumed.stop();
    expect(kept(early[0])).toBe(true);
  });
});
