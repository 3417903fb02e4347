import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeStatus } from "../../client/node-client.ts";
import { clientEnv, type NodeProcess, runCli, startNodeProcess } from "../helpers/cli.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { freePort } from "../helpers/ports.ts";

/**
 * A reverse proxy in front of a node that passes every request and answer on but drops
 * request trailers, as nginx does: a body goes on chunked (nginx with request buffering
 * off), or, with `buffer`, read whole and sent with its length (nginx's default). As
 * nginx does by default, it does not pass upgrades on: `Connection` and `Upgrade` are the
 * hop's own headers, and are dropped.
 */
interface TrailerDroppingProxy {
  url: string;
  server: Server;
  /** Requests that came with a trailer, which was not passed on. */
  dropped: number;
  /** Requests that asked for an upgrade, which was not passed on. */
  upgradesDropped: number;
}

async function trailerDroppingProxy(
  target: string,
  buffer: boolean,
): Promise<TrailerDroppingProxy> {
  const proxy = { url: "", server: createServer(), dropped: 0, upgradesDropped: 0 };
  proxy.server.on("request", async (req, res) => {
    const {
      trailer: _trailer,
      "transfer-encoding": chunked,
      connection: _connection,
      upgrade: _upgrade,
      ...headers
    } = req.headers;
    if (req.headers.upgrade !== undefined) proxy.upgradesDropped++;
    const body: Buffer[] = [];
    if (buffer) for await (const chunk of req) body.push(chunk as Buffer);
    const length = buffer ? { "content-length": String(Buffer.concat(body).length) } : {};
    const upstream = request(
      `${target}${req.url}`,
      {
        method: req.method,
        headers: {
          ...headers,
          ...(chunked && !buffer ? { "transfer-encoding": chunked } : {}),
          ...length,
        },
        agent: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    const counted = () => {
      if (Object.keys(req.trailers).length > 0) proxy.dropped++;
    };
    if (buffer) {
      counted();
      upstream.end(Buffer.concat(body));
    } else {
      req.on("end", counted);
      req.pipe(upstream);
    }
  });
  await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
  return proxy;
}

// Nodes whose operators put a proxy in front of them that drops HTTP trailers (one that
// buffers bodies, two that stream them): an upload then sends each shard a second time,
// to the same node, with its root up front.
describe("nodes behind a proxy that drops request trailers", () => {
  let chain: LocalChain;
  let work: string;
  let env: Record<string, string>;
  const proxies: TrailerDroppingProxy[] = [];
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    chain = await startLocalChain();
    work = await tempDir("dstore-proxy-");
    env = clientEnv(chain, work);
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const proxy = await trailerDroppingProxy(`http://127.0.0.1:${port}`, i === 0);
      proxies.push(proxy);
      nodes.push(
        await startNodeProcess({
          chain,
          account: i + 1,
          port,
          dataDir: await tempDir(`dstore-proxy-node-${i}-`),
          endpoint: proxy.url,
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    try {
      await Promise.all(nodes.map((node) => node.stop()));
      for (const proxy of proxies) proxy.server.close();
      await chain?.stop();
    } finally {
      await removeTempDirs();
    }
  });

  it("stores every shard on its own node all the same, and the file reads back whole", async () => {
    const data = randomBytes(5 * 2 ** 20 + 3);
    const path = join(work, "file.bin");
    await writeFile(path, data);
    // Three shards on three nodes: a node dropped for the lost trailer would leave none
    // to take its shard.
    const put = await runCli(["put", path, "-k", "2", "-m", "1", "--json"], env);
    expect(put.code, put.stderr).toBe(0);
    const { fileId, placements } = JSON.parse(put.stdout) as {
      fileId: string;
      placements: number[];
    };
    expect([...placements].sort()).toEqual(nodes.map((node) => node.nodeId).sort());
    // Each shard asked for an upgrade, lost it, and went as a plain PUT, its trailer lost.
    for (const proxy of proxies) expect(proxy.upgradesDropped).toBe(1);
    for (const proxy of proxies) expect(proxy.dropped).toBe(1);
    const out = join(work, "file.out");
    const get = await runCli(["get", fileId, "-o", out], env);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
  }, 120_000);

  it("sends the next file's roots up front to nodes that said their roots do not arrive", async () => {
    for (const node of nodes) expect((await nodeStatus(node.url)).rootTrailers).toBe(false);
    const data = randomBytes(3 * 2 ** 20 + 1);
    const path = join(work, "next.bin");
    await writeFile(path, data);
    const put = await runCli(["put", path, "-k", "2", "-m", "1", "--json"], env);
    expect(put.code, put.stderr).toBe(0);
    // Each shard went once, with its root in the header: no trailer for a proxy to drop.
    for (const proxy of proxies) expect(proxy.dropped).toBe(1);
    for (const proxy of proxies) expect(proxy.upgradesDropped).toBe(2);
    const { fileId } = JSON.parse(put.stdout) as { fileId: string };
    const out = join(work, "next.out");
    const get = await runCli(["get", fileId, "-o", out], env);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
  }, 120_000);
});
