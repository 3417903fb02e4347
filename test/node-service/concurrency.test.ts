import { randomInt } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import type { SignedReceipt } from "../../client/protocol/eip712.ts";
import { type NodeProcess, startChainWithNode } from "../helpers/cli.ts";
import { filesUnder, removeTempDirs } from "../helpers/data-dir.ts";
import type { LocalChain } from "../helpers/local-chain.ts";
import {
  httpRequest,
  jsonOf,
  metricsOf,
  metricValue,
  putShardRaw,
  statusOf,
} from "../helpers/node-api.ts";
import {
  type ExampleShard,
  exampleShard,
  receiptSigner,
  rootOf,
  type SignTarget,
  signTargetOf,
  uploadHeader,
} from "../helpers/shard-examples.ts";

const CLIENT = devAccount(0);
const OPERATOR = devAccount(1);
const PARALLEL = 64;

describe("a node under 64 parallel uploads and downloads", () => {
  let chain: LocalChain;
  let node: NodeProcess;
  let dataDir: string;
  let target: SignTarget;
  const stored: ExampleShard[] = [];

  beforeAll(async () => {
    ({ chain, node, dataDir } = await startChainWithNode("concurrency"));
    target = signTargetOf(chain, node.nodeId);
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await removeTempDirs();
  });

  /** Upload `shard` and check its receipt: 201, signed by the operator, naming the shard. */
  async function upload(shard: ExampleShard): Promise<void> {
    const result = await putShardRaw(
      node.url,
      shard,
      await uploadHeader(target, shard, { signer: CLIENT }),
    );
    expect(result.status, result.body.toString()).toBe(201);
    const signed = jsonOf<SignedReceipt>(result);
    expect(signed.receipt).toMatchObject({
      fileId: shard.fileId,
      size: String(shard.body.length),
      root: shard.root,
    });
    expect(receiptSigner(target.domain, signed)).toBe(OPERATOR.address);
    stored.push(shard);
  }

  /** Download `shard` whole or from a random offset and check the bytes against its root. */
  async function download(shard: ExampleShard): Promise<void> {
    const whole = await httpRequest(node.url, { path: `/v1/shards/${shard.shardId}` });
    expect(whole.status).toBe(200);
    expect(rootOf(whole.body)).toBe(shard.root);
    if (shard.body.length < 2) return;
    const start = randomInt(1, shard.body.length);
    const tail = await httpRequest(node.url, {
      path: `/v1/shards/${shard.shardId}`,
      headers: { range: `bytes=${start}-` },
    });
    expect(tail.status).toBe(206);
    expect(tail.body).toEqual(shard.body.subarray(start));
  }

  const randomShards = (count: number) =>
    Array.from({ length: count }, () => exampleShard(randomInt(1, 512 * 1024)));

  it("stores 64 shards uploaded at once, each with a valid receipt", async () => {
    await Promise.all(randomShards(PARALLEL).map(upload));
    expect(await statusOf(node.url)).toMatchObject({ shards: PARALLEL, reserved: 0 });
  });

  it("serves 64 downloads at once, whole and by range, all matching their roots", async () => {
    await Promise.all(stored.slice(0, PARALLEL).map(download));
  });

  it("completes 64 uploads and 64 downloads running together, all verified", async () => {
    const earlier = stored.slice(0, PARALLEL);
    await Promise.all([...randomShards(PARALLEL).map(upload), ...earlier.map(download)]);
    await Promise.all(stored.slice(PARALLEL).map(download));

    const bytes = stored.reduce((sum, shard) => sum + shard.body.length, 0);
    expect(await statusOf(node.url)).toMatchObject({
      shards: 2 * PARALLEL,
      used: bytes,
      reserved: 0,
    });
    const samples = await metricsOf(node.url);
    expect(metricValue(samples, "dstore_shard_bytes_received_total")).toBe(bytes);
    expect(metricValue(samples, "dstore_http_errors_total")).toBe(0);
    expect(await filesUnder(join(dataDir, "tmp"))).toEqual([]);
  });
});
