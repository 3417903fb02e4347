import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { AUTHORIZATION_HEADER } from "../../client/protocol/authorization-header.ts";
import { LEAF_SIZE, leafHash, rootFromPath } from "../../client/protocol/merkle.ts";
import { ERROR_STATUS } from "../../node-service/errors.ts";
import { type NodeProcess, startChainWithNode } from "../helpers/cli.ts";
import { filesUnder, removeTempDirs } from "../helpers/data-dir.ts";
import type { LocalChain } from "../helpers/local-chain.ts";
import {
  expectError,
  type HttpResult,
  httpRequest,
  jsonOf,
  metricsOf,
  metricValue,
  putShardRaw,
  statusOf,
} from "../helpers/node-api.ts";
import {
  deletionHeader,
  type ExampleShard,
  exampleShard,
  rootOf,
  type SignTarget,
  signTargetOf,
  uploadHeader,
} from "../helpers/shard-examples.ts";

const CLIENT = devAccount(0);
const STRANGER = devAccount(9);
const MiB = 1024 * 1024;
/** Generous ceiling on the node's resident memory after the whole barrage. */
const RSS_LIMIT = 300 * MiB;

/** Printable ASCII: what Node's http client lets through in a path or a header value. */
const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  });
const hex = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength, maxLength });

/** Assert the node answered sanely: never a 5xx, and every error is `{ error, message }`. */
function expectSane(result: HttpResult, method: string): void {
  expect(result.status, result.body.toString("utf8")).toBeLessThan(500);
  if (result.status < 400 || method === "HEAD") return;
  const body = jsonOf<{ error: keyof typeof ERROR_STATUS; message: string }>(result);
  expect(Object.keys(body).sort()).toEqual(["error", "message"]);
  expect(ERROR_STATUS[body.error]).toBe(result.status);
  expectError(result, result.status, body.error);
}

describe("the node API under random requests (fast-check)", () => {
  let chain: LocalChain;
  let node: NodeProcess;
  let dataDir: string;
  let target: SignTarget;
  let stored: ExampleShard;
  let rssBefore: number;
  /** Well-formed signed headers (for the stored shard and others) to mix into the barrage. */
  const signedHeaders: string[] = [];

  beforeAll(async () => {
    ({ chain, node, dataDir } = await startChainWithNode("props"));
    target = signTargetOf(chain, node.nodeId);
    stored = exampleShard(5 * LEAF_SIZE + 300);
    const result = await putShardRaw(
      node.url,
      stored,
      await uploadHeader(target, stored, { signer: CLIENT }),
    );
    expect(result.status).toBe(201);
    rssBefore = metricValue(await metricsOf(node.url), "dstore_process_resident_memory_bytes");
    const other = exampleShard(100);
    for (let i = 0; i < 4; i++) {
      signedHeaders.push(
        await uploadHeader(target, stored, { signer: CLIENT }),
        await uploadHeader(target, other, { signer: CLIENT }),
        // A stranger's deletion: refused, so the stored shard stays for the other properties.
        await deletionHeader(target, stored, { signer: STRANGER }),
      );
    }
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await removeTempDirs();
  });

  it("answers any method, shard id, path trick, header and body without a 5xx, with JSON errors", async () => {
    const shardIds = fc.oneof(
      hex(0, 70),
      hex(64, 64),
      printable(80).map(encodeURIComponent),
      fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent),
      printable(80),
      fc.constantFrom(
        "..",
        "%2e%2e",
        "%2E%2E%2Fnonces.log",
        "..%2f..%2fchain-state.json",
        "%00",
        "%c0%ae%c0%ae",
        "%zz",
        "%",
        "/",
        "//",
        "../../etc/passwd",
        "%5c..%5c",
        stored.shardId,
        `${stored.shardId}%00`,
      ),
    );
    const suffixes = fc.oneof(
      fc.constant(""),
      fc.constant("/proof"),
      printable(12).map((leaf) => `/proof?leaf=${encodeURIComponent(leaf)}`),
      fc.nat(20).map((leaf) => `/proof?leaf=${leaf}`),
      printable(12).map((rest) => `/${rest}`),
    );
    const authorizations = fc.option(
      fc.oneof(
        fc.constantFrom(...signedHeaders),
        printable(300),
        fc.json().map((json) => Buffer.from(json).toString("base64url")),
        fc
          .record({
            chainId: fc.oneof(fc.nat().map(String), printable(10)),
            contract: hex(40, 40).map((h) => `0x${h}`),
            signer: hex(40, 40).map((h) => `0x${h}`),
            message: fc.object(),
            signature: hex(0, 140).map((h) => `0x${h}`),
          })
          .map((envelope) => Buffer.from(JSON.stringify(envelope)).toString("base64url")),
      ),
      { nil: undefined },
    );
    const request = fc.record({
      method: fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"),
      path: fc.tuple(shardIds, suffixes).map(([id, suffix]) => `/v1/shards/${id}${suffix}`),
      authorization: authorizations,
      range: fc.option(printable(30), { nil: undefined }),
      body: fc.option(fc.uint8Array({ maxLength: 8192 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, authorization, range, body }) => {
        const result = await httpRequest(node.url, {
          method,
          path,
          headers: {
            ...(authorization === undefined ? {} : { [AUTHORIZATION_HEADER]: authorization }),
            ...(range === undefined ? {} : { range }),
          },
          ...(body === undefined ? {} : { body }),
        });
        expectSane(result, method);
      }),
      { numRuns: 200 },
    );
  });

  it("answers any Range header on a stored shard with the whole shard, exactly the range asked, or 416", async () => {
    const size = stored.body.length;
    const ranges = fc.oneof(
      fc.tuple(fc.nat(size + 100), fc.nat(size + 100)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(size + 100).map((n) => `bytes=${n}-`),
      fc.nat(size + 100).map((n) => `bytes=-${n}`),
      fc
        .array(fc.tuple(fc.nat(size), fc.nat(size)), { minLength: 2, maxLength: 4 })
        .map((pairs) => `bytes=${pairs.map(([a, b]) => `${a}-${b}`).join(",")}`),
      printable(30),
    );
    await fc.assert(
      fc.asyncProperty(ranges, async (range) => {
        const result = await httpRequest(node.url, {
          path: `/v1/shards/${stored.shardId}`,
          headers: { range },
        });
        expectSane(result, "GET");
        expect(result.status).toBeOneOf([200, 206, 416]);
        if (result.status === 200) expect(result.body).toEqual(stored.body);
        if (result.status === 206) {
          const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(result.headers["content-range"]));
          expect(match).not.toBeNull();
          const [start, end, total] = match!.slice(1).map(Number) as [number, number, number];
          expect(total).toBe(size);
          expect(result.body).toEqual(stored.body.subarray(start, end + 1));
          const single = /^bytes=(\d+)-(\d+)$/.exec(range);
          if (single) expect(start).toBe(Number(single[1]));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("stores any body signed with its own root and gives it back; refuses (422) and drops a body that does not match", async () => {
    let kept = 1;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3 * LEAF_SIZE + 17 }),
        fc.boolean(),
        async (bytes, corrupt) => {
          const shard = exampleShard(0, { body: Buffer.from(bytes) });
          const signedRoot = corrupt
            ? rootOf(Buffer.concat([shard.body, Buffer.from([1])]))
            : shard.root;
          const authorization = await uploadHeader(target, shard, {
            signer: CLIENT,
            message: { root: signedRoot },
          });
          const result = await putShardRaw(node.url, shard, authorization);
          const served = await httpRequest(node.url, { path: `/v1/shards/${shard.shardId}` });
          if (corrupt) {
            expectError(result, 422, "RootMismatch");
            expectError(served, 404, "ShardNotFound");
          } else {
            expect(result.status).toBe(201);
            kept++;
            expect(served.body).toEqual(shard.body);
            expect(served.headers["x-dstore-root"]).toBe(shard.root);
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(await statusOf(node.url)).toMatchObject({ shards: kept, reserved: 0 });
    expect(await filesUnder(join(dataDir, "tmp"))).toEqual([]);
  });

  it("proves any leaf of a stored shard against its root, and refuses any other leaf parameter with 400", async () => {
    const leaves = Math.ceil(stored.body.length / LEAF_SIZE);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.nat(leaves - 1).map(String), printable(20)), async (leaf) => {
        const result = await httpRequest(node.url, {
          path: `/v1/shards/${stored.shardId}/proof?leaf=${encodeURIComponent(leaf)}`,
        });
        expectSane(result, "GET");
        const index = Number(leaf);
        if (!/^\d{1,15}$/.test(leaf) || index >= leaves) {
          expectError(result, 400, "InvalidRequest");
          return;
        }
        const proof = jsonOf<{ leaf: string; path: string[]; root: string }>(result);
        const path = proof.path.map((hash) => Buffer.from(hash.slice(2), "hex"));
        const bytes = Buffer.from(proof.leaf, "base64");
        expect(`0x${rootFromPath(leafHash(bytes), index, path).toString("hex")}`).toBe(stored.root);
      }),
      { numRuns: 100 },
    );
  });

  it("is still up, serving, and its memory stays bounded after the barrage and large streamed bodies", async () => {
    // Large bodies pass through as streams: 4 x 32 MiB, three refused after the last byte
    // (wrong root), one stored.
    for (let i = 0; i < 4; i++) {
      const shard = exampleShard(0, { body: Buffer.alloc(32 * MiB, i) });
      const root = i < 3 ? rootOf(Buffer.alloc(1, i)) : shard.root;
      const authorization = await uploadHeader(target, shard, {
        signer: CLIENT,
        message: { root },
      });
      const result = await putShardRaw(node.url, shard, authorization);
      expect(result.status).toBe(i < 3 ? 422 : 201);
    }
    expect(node.child.exitCode).toBeNull();
    expect((await statusOf(node.url)).nodeId).toBe(node.nodeId);
    const samples = await metricsOf(node.url);
    const rss = metricValue(samples, "dstore_process_resident_memory_bytes");
    expect(rssBefore).toBeGreaterThan(0);
    expect(rss).toBeLessThan(RSS_LIMIT);
    expect(rss - rssBefore).toBeLessThan(100 * MiB);
    expect(metricValue(samples, "dstore_http_errors_total", { error: "Internal" })).toBe(0);
    expect(metricValue(samples, "dstore_http_requests_total", { status: "500" })).toBe(0);
  });
});
