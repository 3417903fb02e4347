import { randomInt } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { leafHash, rootFromPath } from "../../client/protocol/merkle.ts";
import { type NodeProcess, startNodeProcess } from "../helpers/cli.ts";
import { filesUnder, removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import {
  gate,
  httpRequest,
  jsonOf,
  pausedBody,
  putShardRaw,
  statusOf,
} from "../helpers/node-api.ts";
import { eventually } from "../helpers/poll.ts";
import { freePort } from "../helpers/ports.ts";
import {
  type ExampleShard,
  exampleShard,
  rootOf,
  type SignTarget,
  signTargetOf,
  uploadHeader,
} from "../helpers/shard-examples.ts";

const CLIENT = devAccount(0);
const KiB = 1024;
const MiB = 1024 * KiB;

/** A body streamed as fast as the connection takes it, giving the event loop back per chunk. */
async function* streamed(body: Buffer, chunk = 64 * KiB): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < body.length; offset += chunk) {
    await new Promise((resolve) => setImmediate(resolve));
    yield body.subarray(offset, offset + chunk);
  }
}

describe("a node killed with SIGKILL during many concurrent uploads", () => {
  let chain: LocalChain;
  let dataDir: string;
  let logFile: string;
  let port: number;
  let node: NodeProcess;
  let target: SignTarget;

  const start = async () => {
    node = await startNodeProcess({ chain, account: 1, port, dataDir, capacity: "1GiB", logFile });
    return node;
  };

  beforeAll(async () => {
    chain = await startLocalChain();
    dataDir = await tempDir("dstore-crash-data-");
    logFile = join(await tempDir("dstore-crash-log-"), "node.log");
    port = await freePort();
    await start();
    target = signTargetOf(chain, node.nodeId);
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await removeTempDirs();
  });

  it("restarts with every stored shard whole and verifying, nothing partial served and tmp/ empty", async () => {
    const base = node.url;
    /** The upload's status, or undefined when the connection broke first. */
    const put = async (shard: ExampleShard, body: AsyncIterable<Buffer>) =>
      putShardRaw(base, shard, await uploadHeader(target, shard, { signer: CLIENT }), {
        body,
        headers: { "content-length": String(shard.body.length) },
      }).then(
        (result) => result.status,
        () => undefined,
      );

    // 16 uploads that finish, 16 held midway until after the kill, 16 racing the kill.
    const finished = Array.from({ length: 16 }, () => exampleShard(randomInt(1, 512 * KiB)));
    const held = Array.from({ length: 16 }, () => exampleShard(randomInt(1 * MiB, 4 * MiB)));
    const racing = Array.from({ length: 16 }, () => exampleShard(randomInt(1 * MiB, 8 * MiB)));
    const afterKill = gate();
    const uploads = new Map<ExampleShard, Promise<number | undefined>>();
    for (const shard of finished) uploads.set(shard, put(shard, streamed(shard.body)));
    for (const shard of held) {
      // At least one piece goes out, so the node has started writing it.
      const pause = randomInt(64 * KiB, shard.body.length);
      uploads.set(shard, put(shard, pausedBody(shard.body, { pause, gate: afterKill.opened })));
    }
    for (const shard of racing) uploads.set(shard, put(shard, streamed(shard.body)));

    for (const shard of finished) expect(await uploads.get(shard)).toBe(201);
    const tmp = join(dataDir, "tmp");
    const partial = await eventually(
      async () => {
        const files = await filesUnder(tmp);
        const inFlight = held.every((shard) =>
          files.some((file) => file.startsWith(shard.shardId) && !file.includes(".leaves")),
        );
        return inFlight && files;
      },
      { what: "every held upload writing its temporary file" },
    );
    expect(partial.length).toBeGreaterThanOrEqual(2 * held.length);

    node.child.kill("SIGKILL");
    await node.exited;
    afterKill.open();
    const outcomes = new Map<ExampleShard, number | undefined>();
    for (const [shard, upload] of uploads) outcomes.set(shard, await upload);

    await start();

    expect(await filesUnder(tmp)).toEqual([]);
    const onDisk = new Map<string, string[]>();
    for (const file of await filesUnder(join(dataDir, "shards"))) {
      const id = file.split("/")[1]!.split(".")[0]!;
      onDisk.set(id, [...(onDisk.get(id) ?? []), file]);
    }
    for (const [id, files] of onDisk) {
      expect(files.map((file) => file.slice(3 + 64))).toEqual(["", ".json", ".leaves"].sort());
      expect(id.slice(0, 2)).toBe(files[0]!.slice(0, 2));
    }

    let served = 0;
    let servedBytes = 0;
    let cutOff = 0;
    for (const [shard, status] of outcomes) {
      const result = await httpRequest(base, { path: `/v1/shards/${shard.shardId}` });
      if (status === 201 || result.status === 200) {
        // Stored, acknowledged or not (a 201 may be lost in the kill): whole and verifying.
        expect(result.status).toBe(200);
        expect(result.headers["x-dstore-root"]).toBe(shard.root);
        expect(result.body.length).toBe(shard.body.length);
        expect(rootOf(result.body)).toBe(shard.root);
        expect(onDisk.has(shard.shardId)).toBe(true);
        served++;
        servedBytes += shard.body.length;
      } else {
        expect(result.status).toBe(404);
        expect(onDisk.has(shard.shardId)).toBe(false);
        cutOff++;
      }
    }
    for (const shard of held) expect(outcomes.get(shard)).toBeUndefined();
    expect(cutOff).toBeGreaterThanOrEqual(held.length);
    expect(served).toBe(onDisk.size);
    expect(await statusOf(base)).toMatchObject({ shards: served, used: servedBytes, reserved: 0 });

    // Proofs still come from intact leaf hashes.
    const [first] = finished as [ExampleShard];
    const proof = jsonOf<{ leaf: string; path: string[]; root: string }>(
      await httpRequest(base, { path: `/v1/shards/${first.shardId}/proof?leaf=0` }),
    );
    const path = proof.path.map((hash) => Buffer.from(hash.slice(2), "hex"));
    const leaf = Buffer.from(proof.leaf, "base64");
    expect(`0x${rootFromPath(leafHash(leaf), 0, path).toString("hex")}`).toBe(first.root);

    // An upload cut off by the crash can simply be made again.
    const [retry] = held as [ExampleShard];
    expect(await put(retry, streamed(retry.body))).toBe(201);
  });
});
