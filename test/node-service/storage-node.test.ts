import { join } from "node:path";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Chain } from "../../client/chain/contracts.ts";
import { devAccount } from "../../client/devnet/devnet.ts";
import { AUTHORIZATION_HEADER } from "../../client/protocol/authorization-header.ts";
import type { SignedReceipt } from "../../client/protocol/eip712.ts";
import { LEAF_SIZE, leafHash, rootFromPath } from "../../client/protocol/merkle.ts";
import { authorizeUpload } from "../../client/signing.ts";
import { EVENT_LOOP_SAMPLE_MS } from "../../node-service/metrics.ts";
import { ShardStore } from "../../node-service/shard-store.ts";
import { startStorageNode } from "../../node-service/storage-node.ts";
import { asAccount, connectAs, deleteFile, registerFile } from "../helpers/chain-files.ts";
import { type NodeProcess, startNodeProcess } from "../helpers/cli.ts";
import { filesUnder, removeTempDirs, shardFiles, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import {
  expectError,
  gate,
  httpRequest,
  jsonOf,
  metricsOf,
  metricValue,
  pausedBody,
  putShardRaw,
  putShardUpgraded,
  receiptOf,
  statusOf,
} from "../helpers/node-api.ts";
import { eventually } from "../helpers/poll.ts";
import { freePort } from "../helpers/ports.ts";
import {
  deletionHeader,
  type ExampleShard,
  exampleShard,
  randomFileId,
  receiptSigner,
  rootOf,
  type SignTarget,
  signTargetOf,
  uploadHeader,
} from "../helpers/shard-examples.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

const CLIENT = devAccount(0);
const OPERATOR = devAccount(1);
const STRANGER = devAccount(7);
const CAPACITY = 64 * 1024 * 1024;

describe("storage node: `dstore node start` as a real process on a real chain", () => {
  let chain: LocalChain;
  let clientChain: Chain;
  let dataDir: string;
  let logDir: string;
  let port: number;
  let node: NodeProcess;
  let base: string;
  let target: SignTarget;
  /** Shards the node should hold now. */
  const held = new Map<string, ExampleShard>();
  let bytesStored = 0;
  /** An upload header already used, with its shard: it must stay used across restarts. */
  let usedHeader: { shard: ExampleShard; header: string };

  async function startNode(): Promise<NodeProcess> {
    node = await startNodeProcess({
      chain,
      account: 1,
      port,
      dataDir,
      capacity: `${CAPACITY}`,
      logFile: join(logDir, "node.log"),
    });
    return node;
  }

  async function store(shard: ExampleShard): Promise<SignedReceipt> {
    const result = await putShardRaw(
      base,
      shard,
      await uploadHeader(target, shard, { signer: CLIENT }),
    );
    expect(result.status, result.body.toString()).toBe(201);
    held.set(shard.shardId, shard);
    bytesStored += shard.body.length;
    return jsonOf<SignedReceipt>(result);
  }

  async function remove(shard: ExampleShard, signer = CLIENT) {
    return httpRequest(base, {
      method: "DELETE",
      path: `/v1/shards/${shard.shardId}`,
      headers: { [AUTHORIZATION_HEADER]: await deletionHeader(target, shard, { signer }) },
    });
  }

  const get = (shard: ExampleShard, headers: Record<string, string> = {}) =>
    httpRequest(base, { path: `/v1/shards/${shard.shardId}`, headers });

  beforeAll(async () => {
    chain = await startLocalChain();
    clientChain = await connectAs(chain, 0);
    dataDir = await tempDir("dstore-node-data-");
    logDir = await tempDir("dstore-node-log-");
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await startNode();
    target = signTargetOf(chain, node.nodeId);
  });

  afterAll(async () => {
    await node?.stop();
    clientChain?.provider.destroy();
    await chain?.stop();
    await removeTempDirs();
  });

  it("registers itself on chain at start: NodeRegistry has its operator, endpoint and capacity", async () => {
    const { nodeRegistry } = clientChain;
    expect(Number(await nodeRegistry.nodeIdOf(OPERATOR.address))).toBe(node.nodeId);
    const info = await nodeRegistry.getNode(node.nodeId);
    expect(info.operator).toBe(OPERATOR.address);
    expect(info.endpoint).toBe(base);
    expect(info.capacity).toBe(BigInt(CAPACITY));
    expect(info.status).toBe(1n);
  });

  it("reports who it is and what it holds at /v1/status", async () => {
    expect(await statusOf(base)).toEqual({
      nodeId: node.nodeId,
      operator: OPERATOR.address,
      endpoint: base,
      chainId: "31337",
      fileRegistry: chain.fileRegistry,
      capacity: CAPACITY,
      used: 0,
      reserved: 0,
      free: CAPACITY,
      shards: 0,
      version: "0.1.0",
      rootTrailers: true,
      uploadUpgrade: "dstore-shard/1",
    });
  });

  it("stores a shard authorized by the client library: 201 and a receipt signed by the operator", async () => {
    const shard = exampleShard(3 * LEAF_SIZE + 5, { shardIndex: 4 });
    const header = authorizeUpload(clientChain, new Wallet(CLIENT.privateKey), {
      nodeId: node.nodeId,
      fileId: shard.fileId,
      shardIndex: 4,
      size: BigInt(shard.body.length),
      root: shard.root,
    });
    const result = await putShardRaw(base, shard, header);
    expect(result.status).toBe(201);
    usedHeader = { shard, header };
    held.set(shard.shardId, shard);
    bytesStored += shard.body.length;
    const signed = jsonOf<SignedReceipt>(result);
    expect(signed.receipt).toEqual({
      nodeId: node.nodeId,
      fileId: shard.fileId,
      shardIndex: 4,
      size: String(shard.body.length),
      root: shard.root,
    });
    expect(signed.operator).toBe(OPERATOR.address);
    expect(receiptSigner(target.domain, signed)).toBe(OPERATOR.address);
    expect(await statusOf(base)).toMatchObject({ shards: 1, used: shard.body.length, reserved: 0 });
  });

  it("answers a repeated upload of a stored shard with 200 and the same receipt, storing it once", async () => {
    const shard = exampleShard(5000);
    const first = await store(shard);
    const again = await putShardRaw(
      base,
      shard,
      await uploadHeader(target, shard, { signer: CLIENT }),
    );
    expect(again.status).toBe(200);
    expect(receiptOf(again)).toEqual(first);
    expect((await statusOf(base)).shards).toBe(held.size);
  });

  it("stores an empty shard", async () => {
    const shard = exampleShard(0);
    await store(shard);
    const result = await get(shard);
    expect([result.status, result.body.length, result.headers["x-dstore-root"]]).toEqual([
      200,
      0,
      shard.root,
    ]);
  });

  it("serves a stored shard whole with its Merkle root, length and type", async () => {
    const shard = exampleShard(70_000);
    await store(shard);
    const result = await get(shard);
    expect(result.status).toBe(200);
    expect(result.body).toEqual(shard.body);
    expect(rootOf(result.body)).toBe(shard.root);
    expect(result.headers).toMatchObject({
      "x-dstore-root": shard.root,
      "content-length": "70000",
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
    });
  });

  describe("Range requests", () => {
    const shard = exampleShard(10_000);
    beforeAll(() => store(shard));

    it.each([
      ["bytes=0-0", 0, 0],
      ["bytes=100-4195", 100, 4195],
      ["bytes=9000-", 9000, 9999],
      ["bytes=-100", 9900, 9999],
      ["bytes=5000-999999", 5000, 9999],
    ])("answers %s with 206 and exactly bytes %i-%i", async (range, start, end) => {
      const result = await get(shard, { range });
      expect(result.status).toBe(206);
      expect(result.headers["content-range"]).toBe(`bytes ${start}-${end}/10000`);
      expect(result.headers["x-dstore-root"]).toBe(shard.root);
      expect(result.body).toEqual(shard.body.subarray(start, end + 1));
    });

    it("answers a range that starts past the end with 416 RangeNotSatisfiable", async () => {
      const result = await get(shard, { range: "bytes=10000-10005" });
      expectError(result, 416, "RangeNotSatisfiable");
      expect(result.headers["content-range"]).toBe("bytes */10000");
    });

    it("answers HEAD with the headers of GET and no body", async () => {
      const result = await httpRequest(base, {
        method: "HEAD",
        path: `/v1/shards/${shard.shardId}`,
      });
      expect(result.status).toBe(200);
      expect(result.headers).toMatchObject({
        "content-length": "10000",
        "x-dstore-root": shard.root,
      });
      expect(result.body.length).toBe(0);
    });
  });

  it("proves every leaf of a shard: each path leads from the leaf to the shard's root", async () => {
    const shard = exampleShard(6 * LEAF_SIZE + 123);
    await store(shard);
    for (let leaf = 0; leaf < 7; leaf++) {
      const result = await httpRequest(base, {
        path: `/v1/shards/${shard.shardId}/proof?leaf=${leaf}`,
      });
      expect(result.status).toBe(200);
      const proof = jsonOf<{ leaf: string; path: string[]; root: string; size: number }>(result);
      const bytes = Buffer.from(proof.leaf, "base64");
      expect(bytes).toEqual(shard.body.subarray(leaf * LEAF_SIZE, (leaf + 1) * LEAF_SIZE));
      expect([proof.root, proof.size]).toEqual([shard.root, shard.body.length]);
      const path = proof.path.map((hash) => Buffer.from(hash.slice(2), "hex"));
      expect(`0x${rootFromPath(leafHash(bytes), leaf, path).toString("hex")}`).toBe(shard.root);
    }
    expectError(
      await httpRequest(base, { path: `/v1/shards/${shard.shardId}/proof?leaf=7` }),
      400,
      "InvalidRequest",
    );
    expectError(
      await httpRequest(base, { path: `/v1/shards/${shard.shardId}/proof` }),
      400,
      "InvalidRequest",
    );
  });

  it("deletes a shard on a request signed by its uploader while the file is not on chain", async () => {
    const shard = exampleShard(4000);
    await store(shard);
    const before = await statusOf(base);
    const result = await remove(shard);
    expect(result.status).toBe(204);
    held.delete(shard.shardId);
    expectError(await get(shard), 404, "ShardNotFound");
    expect(await statusOf(base)).toMatchObject({
      shards: before.shards - 1,
      used: before.used - 4000,
    });
    const files = await filesUnder(dataDir);
    for (const file of shardFiles(shard.shardId)) expect(files).not.toContain(file);
  });

  it("refuses deletion signed by anyone else (403 NotOwner) and keeps the shard", async () => {
    const shard = exampleShard(4000);
    await store(shard);
    expectError(await remove(shard, STRANGER), 403, "NotOwner");
    expect((await get(shard)).body).toEqual(shard.body);
  });

  it("lets only the on-chain owner delete once the file is registered, not the uploader", async () => {
    const OWNER = 5;
    const shard = exampleShard(4000, { fileId: randomFileId(OWNER) });
    await store(shard);
    await registerFile(chain, OWNER, shard.fileId, [
      { root: shard.root, nodeId: node.nodeId },
      { root: exampleShard(1).root, nodeId: node.nodeId },
    ]);
    expectError(await remove(shard, CLIENT), 403, "NotOwner");
    expect((await get(shard)).status).toBe(200);
    expect((await remove(shard, devAccount(OWNER))).status).toBe(204);
    held.delete(shard.shardId);
    expect((await get(shard)).status).toBe(404);
  });

  it("drops the shards of a file deleted on chain (FileRegistry.deleteFile) and keeps the others", async () => {
    const fileId = randomFileId();
    const shards = [0, 1].map((shardIndex) => exampleShard(3000, { fileId, shardIndex }));
    for (const shard of shards) await store(shard);
    await registerFile(
      chain,
      0,
      fileId,
      shards.map((shard) => ({ root: shard.root, nodeId: node.nodeId })),
    );
    await deleteFile(chain, 0, fileId);
    for (const shard of shards) {
      await eventually(async () => (await get(shard)).status === 404, {
        what: `shard ${shard.shardIndex} dropped`,
      });
      held.delete(shard.shardId);
    }
    for (const shard of held.values()) expect((await get(shard)).status).toBe(200);
    expect((await statusOf(base)).shards).toBe(held.size);
  });

  it("samples its event loop every EVENT_LOOP_SAMPLE_MS: the lag metrics include that interval", async () => {
    // Node's histogram holds the time between two samples (the bench takes the interval off
    // to report how late they came). A scrape resets it: wait for one that saw a sample
    // come on time (on a busy machine some come late; sampling every 50 ms never would).
    const min = await eventually(
      async () => {
        const seconds = metricValue(
          await metricsOf(base),
          "dstore_nodejs_eventloop_lag_min_seconds",
        );
        return seconds * 1000 < EVENT_LOOP_SAMPLE_MS * 2 ? seconds * 1000 : undefined;
      },
      { what: "an event-loop sample on time between two scrapes" },
    );
    expect(min).toBeGreaterThanOrEqual(EVENT_LOOP_SAMPLE_MS * 0.8);
  });

  it("serves Prometheus metrics: request, byte and error counters, store gauges, process memory", async () => {
    const result = await httpRequest(base, { path: "/metrics" });
    expect(result.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = result.body.toString("utf8");
    for (const name of [
      "dstore_http_requests_total",
      "dstore_http_errors_total",
      "dstore_shard_bytes_received_total",
      "dstore_shard_bytes_sent_total",
      "dstore_store_used_bytes",
    ]) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} .+\\n# TYPE ${name} (counter|gauge)$`, "m"));
    }
    const samples = await metricsOf(base);
    const status = await statusOf(base);
    const stored = { method: "PUT", route: "/v1/shards/:shardId", status: "201" };
    expect(metricValue(samples, "dstore_http_requests_total", stored)).toBeGreaterThanOrEqual(8);
    expect(metricValue(samples, "dstore_shard_bytes_received_total")).toBe(bytesStored);
    expect(metricValue(samples, "dstore_shard_bytes_sent_total")).toBeGreaterThan(70_000);
    expect(metricValue(samples, "dstore_http_errors_total", { error: "NotOwner" })).toBe(2);
    expect(metricValue(samples, "dstore_http_errors_total", { error: "ShardNotFound" })).toBe(
      metricValue(samples, "dstore_http_requests_total", { status: "404" }),
    );
    expect(metricValue(samples, "dstore_store_shards")).toBe(status.shards);
    expect(metricValue(samples, "dstore_store_used_bytes")).toBe(status.used);
    expect(metricValue(samples, "dstore_store_reserved_bytes")).toBe(0);
    expect(metricValue(samples, "dstore_store_capacity_bytes")).toBe(CAPACITY);
    expect(metricValue(samples, "dstore_process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("on SIGTERM lets an upload in flight finish (201), then exits with code 0", async () => {
    const shard = exampleShard(512 * 1024);
    const resume = gate();
    const upload = putShardRaw(base, shard, await uploadHeader(target, shard, { signer: CLIENT }), {
      body: pausedBody(shard.body, { pause: 256 * 1024, gate: resume.opened }),
      headers: { "content-length": String(shard.body.length) },
    });
    await eventually(async () => (await statusOf(base)).reserved === shard.body.length, {
      what: "the upload in flight",
    });
    node.child.kill("SIGTERM");
    // The node stops taking connections, but the upload already running goes on.
    await eventually(
      () =>
        statusOf(base).then(
          () => false,
          () => true,
        ),
      {
        what: "the node refusing new connections",
      },
    );
    resume.open();
    expect((await upload).status).toBe(201);
    held.set(shard.shardId, shard);
    await node.exited;
    expect(node.child.exitCode).toBe(0);
  });

  it("restarts on the same data dir with every shard intact, the same node id and its used nonces, without registering again", async () => {
    const before = await asAccount(chain, 0, (c) => c.nodeRegistry.activeNodeCount());
    const previousId = node.nodeId;
    await startNode();
    expect(node.nodeId).toBe(previousId);
    expect(await clientChain.nodeRegistry.activeNodeCount()).toBe(before);
    const status = await statusOf(base);
    expect(status).toMatchObject({ shards: held.size, reserved: 0 });
    expect(status.used).toBe([...held.values()].reduce((sum, s) => sum + s.body.length, 0));
    for (const shard of held.values()) {
      const result = await get(shard);
      expect(result.status).toBe(200);
      expect(rootOf(result.body)).toBe(shard.root);
      expect(result.headers["x-dstore-root"]).toBe(shard.root);
    }
    expect(await filesUnder(join(dataDir, "tmp"))).toEqual([]);
    expectError(await putShardRaw(base, usedHeader.shard, usedHeader.header), 403, "NonceReused");
  });

  it("stops cleanly on SIGINT too (exit code 0)", async () => {
    node.child.kill("SIGINT");
    await node.exited;
    expect(node.child.exitCode).toBe(0);
  });

  it("stop() (in process, 200 ms grace) cuts off uploads still running after the grace period, plain or upgraded, and keeps nothing of them", async () => {
    const graceDir = await tempDir("dstore-node-grace-");
    const port = await freePort();
    const running = await startStorageNode({
      dataDir: graceDir,
      host: "127.0.0.1",
      port,
      capacity: CAPACITY,
      price: 1n,
      rpcUrl: chain.rpcUrl,
      privateKey: devAccount(2).privateKey,
      fileRegistry: chain.fileRegistry,
      nodeRegistry: chain.nodeRegistry,
      fromBlock: chain.fromBlock,
      shutdownGrace: 200,
      logger: silentLogger,
    });
    const graceTarget = {
      domain: { chainId: 31337n, verifyingContract: chain.fileRegistry },
      nodeId: running.nodeId,
    };
    const shard = exampleShard(256 * 1024);
    const never = gate();
    const upload = putShardRaw(
      running.url,
      shard,
      await uploadHeader(graceTarget, shard, { signer: CLIENT }),
      {
        body: pausedBody(shard.body, { pause: 128 * 1024, gate: never.opened }),
        headers: { "content-length": String(shard.body.length) },
      },
    );
    // The same on an upgraded connection, which node:http leaves to the node to close.
    const upgradedShard = exampleShard(256 * 1024, { shardIndex: 1 });
    const upgraded = putShardUpgraded(
      running.url,
      upgradedShard,
      await uploadHeader(graceTarget, upgradedShard, { signer: CLIENT }),
      { partial: { bytes: 128 * 1024, after: "wait" } },
    );
    const both = shard.body.length + upgradedShard.body.length;
    await eventually(() => running.store.reserved === both, { what: "the uploads in flight" });
    // Expected before stop(): the upload may fail while stop() is still closing the store.
    const cutOff = expect(upload).rejects.toThrow();
    await running.stop();
    await cutOff;
    expect(await upgraded).toMatchObject({ upgraded: true, status: 0 });
    never.open();
    await eventually(async () => (await filesUnder(join(graceDir, "tmp"))).length === 0, {
      what: "the temporary files removed",
    });
    expect(running.store.get(shard.shardId)).toBeUndefined();
    expect(running.store.get(upgradedShard.shardId)).toBeUndefined();
    expect(running.store.reserved).toBe(0);
    const reopened = await ShardStore.open(graceDir, {
      capacity: CAPACITY,
      maxShardSize: CAPACITY,
      logger: silentLogger,
    });
    expect(reopened.count).toBe(0);
  });
});
