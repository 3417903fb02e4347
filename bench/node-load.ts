import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Wallet } from "ethers";
import { connectChain } from "../client/chain/contracts.ts";
import { devAccount } from "../client/devnet/devnet.ts";
import { putShard } from "../client/node-client.ts";
import { merkleRoot } from "../client/protocol/merkle.ts";
import { type FileId, shardIdOf } from "../client/protocol/shard-id.ts";
import { authorizeUpload } from "../client/signing.ts";
import { startNodeProcess } from "../test/helpers/cli.ts";
import { startLocalChain } from "../test/helpers/local-chain.ts";
import { freePort } from "../test/helpers/ports.ts";

/** How a node's event loop held up under many concurrent uploads. */
export interface NodeLoadResult {
  uploads: number;
  bytesEach: number;
  seconds: number;
  /** Event-loop delay during the burst, from the node's own /metrics (prom-client). */
  p99Ms: number;
  maxMs: number;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    get(`${url}/metrics`, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(dstore_nodejs_eventloop_lag_\w+) ([\d.e+-]+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** 64 uploads at once into one real node process; its event-loop delay meanwhile. */
export async function measureNodeLoad(uploads: number, bytesEach: number): Promise<NodeLoadResult> {
  const chain = await startLocalChain();
  const dataDir = await mkdtemp(join(tmpdir(), "dstore-bench-load-"));
  const node = await startNodeProcess({
    chain,
    account: 1,
    port: await freePort(),
    dataDir,
    capacity: "20GiB",
  });
  try {
    const client = await connectChain({ ...chain, privateKey: devAccount(0).privateKey });
    const shard = randomBytes(bytesEach);
    const root = `0x${merkleRoot(shard).toString("hex")}`;
    const jobs = await Promise.all(
      Array.from({ length: uploads }, async () => {
        const fileId = Wallet.createRandom().privateKey as FileId;
        const header = await authorizeUpload(client, client.wallet!, {
          nodeId: node.nodeId,
          fileId,
          shardIndex: 0,
          size: BigInt(bytesEach),
          root,
        });
        return { fileId, header };
      }),
    );
    await scrape(node.url); // resets the node's event-loop histogram
    const started = performance.now();
    await Promise.all(
      jobs.map(({ fileId, header }) => {
        const body = Readable.from(
          (function* () {
            for (let at = 0; at < bytesEach; at += 256 * 1024)
              yield shard.subarray(at, at + 256 * 1024);
          })(),
        );
        return putShard(node.url, shardIdOf(fileId, 0), header, body, bytesEach);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const metrics = await scrape(node.url);
    client.provider.destroy();
    return {
      uploads,
      bytesEach,
      seconds,
      p99Ms: (metrics.get("dstore_nodejs_eventloop_lag_p99_seconds") ?? Number.NaN) * 1000,
      maxMs: (metrics.get("dstore_nodejs_eventloop_lag_max_seconds") ?? Number.NaN) * 1000,
    };
  } finally {
    await node.stop();
    await chain.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
