import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { openShardUpload } from "../../client/node-client.ts";
import { AUTHORIZATION_HEADER } from "../../client/protocol/authorization-header.ts";
import { DEFERRED_ROOT, type UploadAuthorization } from "../../client/protocol/eip712.ts";
import { UPLOAD_PROTOCOL, UPLOAD_UPGRADE_HEADER } from "../../client/protocol/upload-upgrade.ts";
import { type StorageNode, startStorageNode } from "../../node-service/storage-node.ts";
import { type NodeProcess, startNodeProcess } from "../helpers/cli.ts";
import { filesUnder, removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import {
  expectError,
  gate,
  type HttpResult,
  httpRequest,
  jsonOf,
  pausedBody,
  putShardRaw,
  putShardUpgraded,
  rawExchange,
  receiptOf,
  statusOf,
} from "../helpers/node-api.ts";
import { eventually } from "../helpers/poll.ts";
import { freePort } from "../helpers/ports.ts";
import {
  deletionHeader,
  type ExampleShard,
  exampleShard,
  type HeaderOptions,
  type SignTarget,
  secondsFromNow,
  signTargetOf,
  uploadHeader,
} from "../helpers/shard-examples.ts";
import { silentLogger } from "../helpers/silent-logger.ts";
import { mountTmpfs, type Tmpfs } from "../helpers/tmpfs.ts";

const CLIENT = devAccount(0);
const STRANGER = devAccount(9);
const KiB = 1024;
const MiB = 1024 * KiB;

/** A node process of this file, with what the tests need to talk to it. */
interface TestNode {
  process: NodeProcess;
  base: string;
  dataDir: string;
  target: SignTarget;
}

describe("storage node errors: JSON { error, message }, the right status, nothing kept, no crash", () => {
  let chain: LocalChain;
  let logDir: string;
  const started: TestNode[] = [];
  /** A node with room to spare, one offering 256 KiB, one on a full disk (a small tmpfs). */
  let roomy: TestNode;
  let small: TestNode;
  let onFullDisk: TestNode | undefined;
  let disk: Tmpfs | undefined;
  /** An in-process node taking shards of at most 64 KiB. */
  let limited: StorageNode;

  async function startNode(account: number, capacity: string, dataDir?: string): Promise<TestNode> {
    const dir = dataDir ?? (await tempDir("dstore-errors-data-"));
    const running = await startNodeProcess({
      chain,
      account,
      port: await freePort(),
      dataDir: dir,
      capacity,
      logFile: join(logDir, `node-${account}.log`),
    });
    const node = {
      process: running,
      base: running.url,
      dataDir: dir,
      target: {
        domain: { chainId: 31337n, verifyingContract: chain.fileRegistry },
        nodeId: running.nodeId,
      },
    };
    started.push(node);
    return node;
  }

  beforeAll(async () => {
    chain = await startLocalChain();
    logDir = await tempDir("dstore-errors-log-");
    disk = mountTmpfs("3m");
    // Each node has its own operator account, so they can register at the same time.
    [roomy, small, onFullDisk, limited] = await Promise.all([
      startNode(1, "64MiB"),
      startNode(2, "256KiB"),
      startNode(3, "1GiB", join(disk.dir, "data")),
      startStorageNode({
        dataDir: await tempDir("dstore-errors-limit-"),
        host: "127.0.0.1",
        port: await freePort(),
        capacity: 64 * MiB,
        maxShardSize: 64 * KiB,
        price: 1n,
        rpcUrl: chain.rpcUrl,
        privateKey: devAccount(4).privateKey,
        fileRegistry: chain.fileRegistry,
        nodeRegistry: chain.nodeRegistry,
        fromBlock: chain.fromBlock,
        logger: silentLogger,
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(started.map((node) => node.process.stop()));
    await limited?.stop();
    disk?.unmount();
    await chain?.stop();
    await removeTempDirs();
  });

  describe("on a node with room to spare", () => {
    let node: TestNode;
    let base: string;
    const stored: ExampleShard[] = [];

    const header = (
      shard: ExampleShard,
      o: Omit<HeaderOptions<UploadAuthorization>, "signer"> = {},
    ) => uploadHeader(node.target, shard, { signer: CLIENT, ...o });

    /** The node keeps none of `shard`: 404, no shard or temporary file, no reservation. */
    async function expectNothingKept(shard: ExampleShard): Promise<void> {
      expectError(
        await httpRequest(base, { path: `/v1/shards/${shard.shardId}` }),
        404,
        "ShardNotFound",
      );
      await eventually(async () => (await filesUnder(join(node.dataDir, "tmp"))).length === 0, {
        what: "the temporary files removed",
      });
      const files = await filesUnder(node.dataDir);
      expect(files.filter((file) => file.includes(shard.shardId))).toEqual([]);
      expect(await statusOf(base)).toMatchObject({
        shards: stored.length,
        used: stored.reduce((sum, s) => sum + s.body.length, 0),
        reserved: 0,
      });
    }

    beforeAll(async () => {
      node = roomy;
      base = node.base;
      const shard = exampleShard(20_000);
      expect((await putShardRaw(base, shard, await header(shard))).status).toBe(201);
      stored.push(shard);
    });

    describe("bad shard ids and path tricks: 400 InvalidShardId, whatever the method", () => {
      const valid = exampleShard(1).shardId;
      it.each([
        ["non-hex characters", `/v1/shards/${"g".repeat(64)}`],
        ["upper-case hex", `/v1/shards/${valid.toUpperCase()}`],
        ["63 characters", `/v1/shards/${valid.slice(1)}`],
        ["65 characters", `/v1/shards/${valid}0`],
        ["a 0x prefix", `/v1/shards/0x${valid}`],
        ["a dot-dot segment", "/v1/shards/.."],
        ["an encoded dot-dot", "/v1/shards/%2e%2e"],
        ["an encoded dot-dot-slash to a node file", "/v1/shards/%2E%2E%2Fnonces.log"],
        ["a dot-dot path out of the folder", "/v1/shards/../nonces.log"],
        ["a dot-dot path to /etc", "/v1/shards/../../../../etc/passwd"],
        ["a valid id and a dot-dot segment", `/v1/shards/${valid}/../${valid}`],
        ["a slash inside", `/v1/shards/${valid.slice(0, 2)}/${valid}`],
        ["an encoded slash", `/v1/shards/${valid.slice(0, 2)}%2F${valid}`],
        ["an empty segment and an absolute path", "/v1/shards//etc/passwd"],
        ["an encoded null byte", "/v1/shards/%00"],
        ["a valid id and an encoded null byte", `/v1/shards/${valid}%00`],
        ["an encoded null byte and a dot-dot", `/v1/shards/%00..%2F${valid}`],
      ])("refuses a shard id with %s", async (_what, path) => {
        for (const method of ["GET", "PUT", "DELETE"]) {
          expectError(await httpRequest(base, { method, path }), 400, "InvalidShardId");
        }
        const head = await httpRequest(base, { method: "HEAD", path });
        expect([head.status, head.body.length]).toEqual([400, 0]);
      });

      it("refuses a raw null byte in the request line with a JSON 400 and keeps serving", async () => {
        const answer = await rawExchange(
          base,
          Buffer.from(
            `GET /v1/shards/${valid.slice(0, 10)}\0${valid.slice(11)} HTTP/1.1\r\nHost: x\r\n\r\n`,
            "latin1",
          ),
        );
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toMatch(/content-type: application\/json/i);
        expect(answer).toContain('"error":"InvalidRequest"');
        expect((await statusOf(base)).nodeId).toBe(node.target.nodeId);
      });

      it("refuses a malformed percent-encoding with 400 InvalidRequest", async () => {
        expectError(await httpRequest(base, { path: "/v1/shards/%zz" }), 400, "InvalidRequest");
      });
    });

    describe("authorization: 401 and 403", () => {
      const shard = exampleShard(3000);
      const put = async (authorization: string | undefined) =>
        putShardRaw(base, shard, authorization);

      it("refuses an upload without the X-Dstore-Authorization header (401 Unauthorized)", async () => {
        expectError(await put(undefined), 401, "Unauthorized");
      });

      it("refuses a header that is not a base64url JSON envelope (401 Unauthorized)", async () => {
        expectError(await put("not*base64"), 401, "Unauthorized");
        expectError(
          await put(Buffer.from('{"chainId":1}').toString("base64url")),
          401,
          "Unauthorized",
        );
      });

      it("refuses a signature that does not match the message (401 BadSignature)", async () => {
        const signed = JSON.parse(Buffer.from(await header(shard), "base64url").toString());
        signed.message.root = exampleShard(1).root;
        expectError(
          await put(Buffer.from(JSON.stringify(signed)).toString("base64url")),
          401,
          "BadSignature",
        );
      });

      it("refuses a signature by someone other than the named signer (401 BadSignature)", async () => {
        expectError(
          await put(await header(shard, { envelope: { signer: STRANGER.address } })),
          401,
          "BadSignature",
        );
      });

      it("refuses an expired authorization (401 AuthorizationExpired)", async () => {
        expectError(
          await put(await header(shard, { message: { expiry: secondsFromNow(-1) } })),
          401,
          "AuthorizationExpired",
        );
      });

      it("refuses a signature for another chain (403 WrongDomain)", async () => {
        const signedDomain = { ...node.target.domain, chainId: 1n };
        expectError(await put(await header(shard, { signedDomain })), 403, "WrongDomain");
      });

      it("refuses a signature for another FileRegistry (403 WrongDomain)", async () => {
        const signedDomain = { ...node.target.domain, verifyingContract: chain.nodeRegistry };
        expectError(await put(await header(shard, { signedDomain })), 403, "WrongDomain");
      });

      it("refuses an authorization for another node (403 WrongNode)", async () => {
        const nodeId = node.target.nodeId + 1;
        expectError(await put(await header(shard, { message: { nodeId } })), 403, "WrongNode");
      });

      it("refuses an authorization for another shard (400 ShardIdMismatch)", async () => {
        expectError(
          await put(await header(shard, { message: { shardIndex: 1 } })),
          400,
          "ShardIdMismatch",
        );
      });

      it("refuses a reused nonce (403 NonceReused), for uploads and deletions", async () => {
        const once = exampleShard(1000);
        const authorization = await header(once);
        expect((await putShardRaw(base, once, authorization)).status).toBe(201);
        expectError(await putShardRaw(base, once, authorization), 403, "NonceReused");
        const deletion = await deletionHeader(node.target, once, { signer: STRANGER });
        const remove = () =>
          httpRequest(base, {
            method: "DELETE",
            path: `/v1/shards/${once.shardId}`,
            headers: { [AUTHORIZATION_HEADER]: deletion },
          });
        expectError(await remove(), 403, "NotOwner");
        expectError(await remove(), 403, "NonceReused");
        stored.push(once);
      });

      it("refuses a deletion without a valid authorization (401) and keeps the shard", async () => {
        const [kept] = stored as [ExampleShard];
        const path = `/v1/shards/${kept.shardId}`;
        expectError(await httpRequest(base, { method: "DELETE", path }), 401, "Unauthorized");
        const expired = await deletionHeader(node.target, kept, {
          signer: CLIENT,
          message: { expiry: secondsFromNow(-10) },
        });
        expectError(
          await httpRequest(base, {
            method: "DELETE",
            path,
            headers: { [AUTHORIZATION_HEADER]: expired },
          }),
          401,
          "AuthorizationExpired",
        );
        expect((await httpRequest(base, { path })).status).toBe(200);
      });

      it("kept nothing of any refused upload", async () => {
        await expectNothingKept(shard);
      });
    });

    describe("size: 413", () => {
      it("refuses a Content-Length above the signed size (413 BodyTooLarge) and keeps nothing", async () => {
        const shard = exampleShard(5000);
        const body = Buffer.concat([shard.body, Buffer.alloc(10)]);
        expectError(
          await putShardRaw(base, shard, await header(shard), { body }),
          413,
          "BodyTooLarge",
        );
        await expectNothingKept(shard);
      });

      it("refuses a chunked body longer than the signed size (413 BodyTooLarge) and keeps nothing", async () => {
        const shard = exampleShard(300 * KiB);
        const longer = Buffer.concat([shard.body, Buffer.alloc(100 * KiB)]);
        const body = pausedBody(longer, { pause: 0, gate: Promise.resolve() });
        expectError(
          await putShardRaw(base, shard, await header(shard), { body }),
          413,
          "BodyTooLarge",
        );
        await expectNothingKept(shard);
      });

      it("refuses a shard above the node's hard per-shard limit (413 ShardTooLarge) before reading it", async () => {
        const shard = exampleShard(10);
        const size = 9n * 2n ** 30n; // above the default limit of 8 GiB
        const result = await httpRequest(base, {
          method: "PUT",
          path: `/v1/shards/${shard.shardId}`,
          headers: {
            [AUTHORIZATION_HEADER]: await header(shard, { message: { size } }),
            "content-length": size.toString(),
          },
        });
        expectError(result, 413, "ShardTooLarge");
        await expectNothingKept(shard);
      });
    });

    describe("content: 422 and 409", () => {
      it("refuses bytes whose Merkle root is not the signed one (422 RootMismatch) and keeps nothing", async () => {
        const shard = exampleShard(200 * KiB);
        const wrongRoot = exampleShard(200 * KiB).root;
        const result = await putShardRaw(
          base,
          shard,
          await header(shard, { message: { root: wrongRoot } }),
        );
        expectError(result, 422, "RootMismatch");
        await expectNothingKept(shard);
      });

      it("refuses a chunked body shorter than the signed size (422 SizeMismatch) and keeps nothing", async () => {
        const shard = exampleShard(100 * KiB);
        const body = pausedBody(shard.body.subarray(0, 60 * KiB), {
          pause: 0,
          gate: Promise.resolve(),
        });
        expectError(
          await putShardRaw(base, shard, await header(shard), { body }),
          422,
          "SizeMismatch",
        );
        await expectNothingKept(shard);
      });

      it("refuses a Content-Length below the signed size (422 SizeMismatch) and keeps nothing", async () => {
        const shard = exampleShard(5000);
        const body = shard.body.subarray(0, 4000);
        expectError(
          await putShardRaw(base, shard, await header(shard), { body }),
          422,
          "SizeMismatch",
        );
        await expectNothingKept(shard);
      });

      it("refuses another shard under a stored shard's id (409 ShardExists)", async () => {
        const [kept] = stored as [ExampleShard];
        const impostor = { ...exampleShard(kept.body.length), shardId: kept.shardId };
        const authorization = await header(kept, { message: { root: impostor.root } });
        expectError(await putShardRaw(base, impostor, authorization), 409, "ShardExists");
        expect((await httpRequest(base, { path: `/v1/shards/${kept.shardId}` })).body).toEqual(
          kept.body,
        );
      });

      it("stores a shard once when two uploads of it race: one 201, one 409, no space left reserved", async () => {
        const shard = exampleShard(256 * KiB);
        const resume = gate();
        const slow = putShardRaw(base, shard, await header(shard), {
          body: pausedBody(shard.body, { pause: 128 * KiB, gate: resume.opened }),
          headers: { "content-length": String(shard.body.length) },
        });
        await eventually(async () => (await statusOf(base)).reserved === shard.body.length);
        expectError(await putShardRaw(base, shard, await header(shard)), 409, "ShardExists");
        resume.open();
        expect((await slow).status).toBe(201);
        stored.push(shard);
        expect((await statusOf(base)).reserved).toBe(0);
      });
    });

    describe("a root signed after the body, in the trailer", () => {
      const terms = () => ({
        nonce: `0x${randomBytes(32).toString("hex")}`,
        expiry: secondsFromNow(600),
      });
      type Terms = ReturnType<typeof terms>;
      const deferred = (shard: ExampleShard, t: Terms) =>
        header(shard, { message: { root: DEFERRED_ROOT, ...t } });
      const signedRoot = (shard: ExampleShard, t: Terms, root = shard.root) =>
        header(shard, { message: { root, ...t } });

      it("stores a chunked body whose trailer signs its root; the receipt names that root", async () => {
        const shard = exampleShard(300 * KiB + 5);
        const t = terms();
        const result = await putShardRaw(base, shard, await deferred(shard, t), {
          trailer: await signedRoot(shard, t),
        });
        expect(result.status).toBe(201);
        expect(receiptOf(result).receipt.root).toBe(shard.root);
        const served = await httpRequest(base, { path: `/v1/shards/${shard.shardId}` });
        expect(served.headers["x-dstore-root"]).toBe(shard.root);
        expect(served.body).toEqual(shard.body);
        stored.push(shard);
        expect((await statusOf(base)).rootTrailers).toBe(true);
        // Stored now: a second upload of it with a deferred root is refused.
        const again = terms();
        expectError(
          await putShardRaw(base, shard, await deferred(shard, again), {
            trailer: await signedRoot(shard, again),
          }),
          409,
          "ShardExists",
        );
      });

      it("refuses a body without the trailer (401 RootTrailerMissing) and keeps nothing", async () => {
        const shard = exampleShard(100 * KiB);
        const body = pausedBody(shard.body, { pause: 0, gate: Promise.resolve() });
        expectError(
          await putShardRaw(base, shard, await deferred(shard, terms()), { body }),
          401,
          "RootTrailerMissing",
        );
        await expectNothingKept(shard);
        // The node now tells clients to sign its roots up front.
        expect((await statusOf(base)).rootTrailers).toBe(false);
      });

      it("refuses a trailer from another authorization (401 Unauthorized) and keeps nothing", async () => {
        const shard = exampleShard(100 * KiB);
        const result = await putShardRaw(base, shard, await deferred(shard, terms()), {
          trailer: await signedRoot(shard, terms()),
        });
        expectError(result, 401, "Unauthorized");
        await expectNothingKept(shard);
      });

      it("refuses bytes whose root is not the one the trailer signs (422 RootMismatch) and keeps nothing", async () => {
        const shard = exampleShard(100 * KiB);
        const t = terms();
        const wrong = exampleShard(100 * KiB).root;
        const result = await putShardRaw(base, shard, await deferred(shard, t), {
          trailer: await signedRoot(shard, t, wrong),
        });
        expectError(result, 422, "RootMismatch");
        await expectNothingKept(shard);
      });

      it("refuses a body with a Content-Length, which cannot carry a trailer (401 RootTrailerMissing)", async () => {
        const shard = exampleShard(10 * KiB);
        expectError(
          await putShardRaw(base, shard, await deferred(shard, terms())),
          401,
          "RootTrailerMissing",
        );
        await expectNothingKept(shard);
      });
    });

    describe("an upload on an upgraded connection (dstore-shard/1)", () => {
      const terms = () => ({
        nonce: `0x${randomBytes(32).toString("hex")}`,
        expiry: secondsFromNow(600),
      });

      it("stores a shard sent after the 101: 201 and its receipt, the bytes served back whole", async () => {
        // Larger than a node's 2 MiB block, and not a whole number of pages.
        const shard = exampleShard(5 * MiB + 3);
        const result = await putShardUpgraded(base, shard, await header(shard));
        expect(result.upgraded).toBe(true);
        expect(result.status, result.body.toString()).toBe(201);
        expect(receiptOf(result).receipt.root).toBe(shard.root);
        stored.push(shard);
        const served = await httpRequest(base, { path: `/v1/shards/${shard.shardId}` });
        expect(served.body.equals(shard.body)).toBe(true);
        expect(await statusOf(base)).toMatchObject({ shards: stored.length, reserved: 0 });
      });

      it("answers a repeat of a stored shard with 200 and its receipt, without upgrading", async () => {
        const shard = stored[0]!;
        const result = await putShardUpgraded(base, shard, await header(shard));
        expect([result.upgraded, result.status]).toEqual([false, 200]);
        expect(receiptOf(result).receipt.root).toBe(shard.root);
      });

      it("refuses before the body, without upgrading: a bad signature, a path that is no shard", async () => {
        const shard = exampleShard(10 * KiB);
        const refused = [
          [
            await putShardUpgraded(
              base,
              shard,
              await header(shard, { envelope: { signer: STRANGER.address } }),
            ),
            401,
            "BadSignature",
          ],
          [
            await putShardUpgraded(base, shard, await header(shard), { path: "/v1/status" }),
            404,
            "NotFound",
          ],
        ] as const;
        for (const [result, status, name] of refused) {
          expect(result.upgraded).toBe(false);
          expectError(result, status, name);
        }
        await expectNothingKept(shard);
      });

      it("serves a request that asks for another upgrade (h2c, as curl --http2 sends) as the plain request it is", async () => {
        const result = await httpRequest(base, {
          path: "/v1/status",
          headers: { connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "" },
        });
        expect(result.status).toBe(200);
        expect(jsonOf<{ uploadUpgrade: string }>(result).uploadUpgrade).toBe(UPLOAD_PROTOCOL);
      });

      it("takes the root signed after the body on the line after it; a wrong root or none is refused and nothing kept", async () => {
        const deferredPut = async (shard: ExampleShard, o: { root?: string; end?: boolean }) => {
          const t = terms();
          const line =
            o.root === undefined
              ? undefined
              : await header(shard, { message: { root: o.root, ...t } });
          return putShardUpgraded(
            base,
            shard,
            await header(shard, { message: { root: DEFERRED_ROOT, ...t } }),
            {
              ...(line === undefined ? {} : { line }),
              ...(o.end ? { end: true } : {}),
            },
          );
        };
        const shard = exampleShard(3 * MiB + 7);
        const other = exampleShard(10).root;
        const wrong = await deferredPut(shard, { root: other });
        expect(wrong.upgraded).toBe(true);
        expectError(wrong, 422, "RootMismatch");
        await expectNothingKept(shard);
        expectError(await deferredPut(shard, { end: true }), 401, "RootTrailerMissing");
        await expectNothingKept(shard);
        const result = await deferredPut(shard, { root: shard.root });
        expect(result.status, result.body.toString()).toBe(201);
        expect(receiptOf(result).receipt.root).toBe(shard.root);
        stored.push(shard);
      });

      it("drops an upload whose connection is cut midway, and keeps nothing of it", async () => {
        const shard = exampleShard(3 * MiB);
        const result = await putShardUpgraded(base, shard, await header(shard), {
          partial: { bytes: MiB + 5, after: "drop" },
        });
        expect([result.upgraded, result.status]).toEqual([true, 0]);
        await expectNothingKept(shard);
      });

      it("refuses a plain PUT whose upgrade a proxy lost (400 UpgradeLost) before using its authorization", async () => {
        const shard = exampleShard(64 * KiB);
        const authorization = await header(shard);
        const lost = await putShardRaw(base, shard, authorization, {
          headers: { [UPLOAD_UPGRADE_HEADER]: UPLOAD_PROTOCOL },
        });
        expectError(lost, 400, "UpgradeLost");
        // The nonce was not used: the same authorization stores the shard as a plain PUT.
        expect((await putShardRaw(base, shard, authorization)).status).toBe(201);
        stored.push(shard);
      });
    });

    describe("not found: 404", () => {
      it("answers an unknown shard, its proof or its deletion with 404 ShardNotFound", async () => {
        const unknown = exampleShard(1);
        const path = `/v1/shards/${unknown.shardId}`;
        expectError(await httpRequest(base, { path }), 404, "ShardNotFound");
        expectError(
          await httpRequest(base, { path: `${path}/proof?leaf=0` }),
          404,
          "ShardNotFound",
        );
        const deletion = await deletionHeader(node.target, unknown, { signer: CLIENT });
        expectError(
          await httpRequest(base, {
            method: "DELETE",
            path,
            headers: { [AUTHORIZATION_HEADER]: deletion },
          }),
          404,
          "ShardNotFound",
        );
      });

      it("answers an unknown endpoint with 404 NotFound", async () => {
        for (const path of ["/", "/v1", "/v1/shards", "/v2/status", "/metrics/x"]) {
          expectError(await httpRequest(base, { path }), 404, "NotFound");
        }
      });
    });

    describe("client aborts", () => {
      it("removes the temporary file of an upload the client aborts midway", async () => {
        const shard = exampleShard(1 * MiB);
        const never = gate();
        const abort = new AbortController();
        const upload = httpRequest(base, {
          method: "PUT",
          path: `/v1/shards/${shard.shardId}`,
          headers: {
            [AUTHORIZATION_HEADER]: await header(shard),
            "content-length": String(shard.body.length),
          },
          body: pausedBody(shard.body, { pause: 512 * KiB, gate: never.opened }),
          signal: abort.signal,
        });
        const tmp = join(node.dataDir, "tmp");
        await eventually(async () => (await filesUnder(tmp)).length > 0, {
          what: "the upload's temporary file",
        });
        abort.abort();
        await expect(upload).rejects.toThrow();
        never.open();
        await expectNothingKept(shard);
      });
    });

    it("never crashed: the node process is still running and serving", async () => {
      expect(node.process.child.exitCode).toBeNull();
      expect((await statusOf(base)).shards).toBe(stored.length);
    });
  });

  describe("on a node offering 256 KiB (capacity, counting uploads in flight)", () => {
    const put = async (shard: ExampleShard): Promise<HttpResult> =>
      putShardRaw(small.base, shard, await uploadHeader(small.target, shard, { signer: CLIENT }));

    it("refuses a shard that does not fit beside an upload in flight (507 InsufficientStorage), then takes what fits", async () => {
      const big = exampleShard(200 * KiB);
      const resume = gate();
      const slow = putShardRaw(
        small.base,
        big,
        await uploadHeader(small.target, big, { signer: CLIENT }),
        {
          body: pausedBody(big.body, { pause: 64 * KiB, gate: resume.opened }),
          headers: { "content-length": String(big.body.length) },
        },
      );
      await eventually(async () => (await statusOf(small.base)).reserved === 200 * KiB);
      const second = exampleShard(100 * KiB);
      expectError(await put(second), 507, "InsufficientStorage");
      expect(await statusOf(small.base)).toMatchObject({
        used: 0,
        reserved: 200 * KiB,
        free: 56 * KiB,
      });

      resume.open();
      expect((await slow).status).toBe(201);
      expect(await statusOf(small.base)).toMatchObject({ used: 200 * KiB, reserved: 0, shards: 1 });
      expectError(await put(second), 507, "InsufficientStorage");
      expect((await put(exampleShard(56 * KiB))).status).toBe(201);
      expectError(await put(exampleShard(1)), 507, "InsufficientStorage");
      expect(await statusOf(small.base)).toMatchObject({ used: 256 * KiB, free: 0, shards: 2 });
      expect(await filesUnder(join(small.dataDir, "tmp"))).toEqual([]);
    });

    it("refuses a signed size above its capacity before reading the body (507)", async () => {
      const shard = exampleShard(10);
      const result = await httpRequest(small.base, {
        method: "PUT",
        path: `/v1/shards/${shard.shardId}`,
        headers: {
          [AUTHORIZATION_HEADER]: await uploadHeader(small.target, shard, {
            signer: CLIENT,
            message: { size: BigInt(MiB) },
          }),
          "content-length": String(MiB),
        },
      });
      expectError(result, 507, "InsufficientStorage");
      expect(small.process.child.exitCode).toBeNull();
    });
  });

  describe("on a node whose disk is full (3 MiB tmpfs, ENOSPC)", () => {
    it("answers 507 InsufficientStorage, keeps nothing partial and keeps serving", async () => {
      const node = onFullDisk!;
      const put = async (shard: ExampleShard) =>
        putShardRaw(node.base, shard, await uploadHeader(node.target, shard, { signer: CLIENT }));
      const first = exampleShard(1 * MiB);
      expect((await put(first)).status).toBe(201);

      const tooBig = exampleShard(4 * MiB);
      expectError(await put(tooBig), 507, "InsufficientStorage");

      await eventually(async () => (await filesUnder(join(node.dataDir, "tmp"))).length === 0);
      expect(await statusOf(node.base)).toMatchObject({ shards: 1, used: MiB, reserved: 0 });
      expect(node.process.child.exitCode).toBeNull();
      const served = await httpRequest(node.base, { path: `/v1/shards/${first.shardId}` });
      expect(served.body).toEqual(first.body);
      expectError(
        await httpRequest(node.base, { path: `/v1/shards/${tooBig.shardId}` }),
        404,
        "ShardNotFound",
      );
      expect((await put(exampleShard(512 * KiB))).status).toBe(201);
      // The same over an upgraded connection: the disk fills after the 101.
      const tooBigUpgraded = exampleShard(4 * MiB);
      const upgraded = await putShardUpgraded(
        node.base,
        tooBigUpgraded,
        await uploadHeader(node.target, tooBigUpgraded, { signer: CLIENT }),
      );
      expect(upgraded.upgraded).toBe(true);
      expectError(upgraded, 507, "InsufficientStorage");
      await eventually(async () => (await filesUnder(join(node.dataDir, "tmp"))).length === 0);
      expect(await statusOf(node.base)).toMatchObject({ shards: 2, reserved: 0 });
      expect(node.process.child.exitCode).toBeNull();
    });
  });

  describe("on a node with a 64 KiB per-shard limit (in process)", () => {
    it("refuses a shard above the limit (413 ShardTooLarge), keeps nothing, and takes one at the limit", async () => {
      const running = limited;
      const target = signTargetOf(chain, running.nodeId);
      const tooLarge = exampleShard(64 * KiB + 1);
      expectError(
        await putShardRaw(
          running.url,
          tooLarge,
          await uploadHeader(target, tooLarge, { signer: CLIENT }),
        ),
        413,
        "ShardTooLarge",
      );
      expect(running.store.get(tooLarge.shardId)).toBeUndefined();
      expect(running.store.reserved).toBe(0);
      const atLimit = exampleShard(64 * KiB);
      const result = await putShardRaw(
        running.url,
        atLimit,
        await uploadHeader(target, atLimit, { signer: CLIENT }),
      );
      expect(result.status).toBe(201);
    });

    it("takes the client's uploads on an upgraded connection (openShardUpload): a shard with its root after it, a repeat answered before the body, one above the limit refused before it", async () => {
      const target = signTargetOf(chain, limited.nodeId);
      const send = async (shard: ExampleShard, deferred = false) => {
        const terms = {
          nonce: `0x${randomBytes(32).toString("hex")}`,
          expiry: secondsFromNow(600),
        };
        const signed = (root: string) =>
          uploadHeader(target, shard, { signer: CLIENT, message: { root, ...terms } });
        const upload = openShardUpload(
          limited.url,
          shard.shardId,
          await signed(deferred ? DEFERRED_ROOT : shard.root),
          shard.body.length,
          { upgrade: true, deferredRoot: deferred },
        );
        // Written at once, before the node has answered the upgrade: they wait for it.
        const writes: Promise<void>[] = [];
        for (let at = 0; at < shard.body.length; at += 10_000)
          writes.push(upload.write(shard.body.subarray(at, at + 10_000)));
        const receipt = upload.finish(deferred ? await signed(shard.root) : undefined);
        return { receipt, writes: Promise.allSettled(writes) };
      };
      const shard = exampleShard(60 * KiB, { shardIndex: 3 });
      const first = await send(shard, true);
      expect((await first.receipt).receipt.root).toBe(shard.root);
      expect((await first.writes).map((write) => write.status)).not.toContain("rejected");
      expect(limited.store.get(shard.shardId)?.root).toBe(shard.root);
      const again = await send(shard);
      expect((await again.receipt).receipt.root).toBe(shard.root);
      const tooLarge = exampleShard(64 * KiB + 1, { shardIndex: 4 });
      await expect((await send(tooLarge)).receipt).rejects.toThrow(/ShardTooLarge/);
      expect(limited.store.get(tooLarge.shardId)).toBeUndefined();
      expect(limited.store.reserved).toBe(0);
    });

    it("takes a missing root line after an upgraded body for the client's fault, not a proxy's: its status still says roots arrive", async () => {
      const target = signTargetOf(chain, limited.nodeId);
      const shard = exampleShard(30 * KiB, { shardIndex: 5 });
      const deferred = await uploadHeader(target, shard, {
        signer: CLIENT,
        message: { root: DEFERRED_ROOT },
      });
      expectError(
        await putShardUpgraded(limited.url, shard, deferred, { end: true }),
        401,
        "RootTrailerMissing",
      );
      expect((await statusOf(limited.url)).rootTrailers).toBe(true);
    });
  });
});
