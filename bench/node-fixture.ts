import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Wallet } from "ethers";
import { type Chain, connectChain } from "../client/chain/contracts.ts";
import { devAccount } from "../client/devnet/devnet.ts";
import { putShard } from "../client/node-client.ts";
import { merkleRoot } from "../client/protocol/merkle.ts";
import { type FileId, shardIdOf } from "../client/protocol/shard-id.ts";
import { authorizeUpload } from "../client/signing.ts";
import { type NodeProcess, startNodeProcess } from "../test/helpers/cli.ts";
import { type LocalChain, startLocalChain } from "../test/helpers/local-chain.ts";
import { freePort } from "../test/helpers/ports.ts";

/** One real storage node process on a real chain, and a client to feed it shards. */
export interface BenchNode {
  node: NodeProcess;
  /**
   * Store `shard` as shard 0 of a new file, sent in `chunk`-byte writes on an upgraded
   * connection; its file id.
   */
  upload(shard: Buffer, chunk: number): Promise<FileId>;
  stop(): Promise<void>;
}

/** Start a chain and one node with room for the benchmarks. */
export async function startBenchNode(): Promise<BenchNode> {
  const chain: LocalChain = await startLocalChain();
  const dataDir = await mkdtemp(join(tmpdir(), "dstore-bench-node-"));
  const node = await startNodeProcess({
    chain,
    account: 1,
    port: await freePort(),
    dataDir,
    capacity: "20GiB",
  });
  const client: Chain = await connectChain({ ...chain, privateKey: devAccount(0).privateKey });
  const roots = new WeakMap<Buffer, string>();
  return {
    node,
    async upload(shard, chunk) {
      let root = roots.get(shard);
      if (root === undefined) {
        root = `0x${merkleRoot(shard).toString("hex")}`;
        roots.set(shard, root);
      }
      const fileId = Wallet.createRandom().privateKey as FileId;
      const header = authorizeUpload(client, client.wallet!, {
        nodeId: node.nodeId,
        fileId,
        shardIndex: 0,
        size: BigInt(shard.length),
        root,
      });
      const body = Readable.from(
        (function* () {
          for (let at = 0; at < shard.length; at += chunk) yield shard.subarray(at, at + chunk);
        })(),
      );
      // Upgraded, as a put sends its shards to nodes that take them so.
      await putShard(node.url, shardIdOf(fileId, 0), header, body, shard.length, {
        upgrade: true,
      });
      return fileId;
    },
    async stop() {
      client.provider.destroy();
      await node.stop();
      await chain.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
