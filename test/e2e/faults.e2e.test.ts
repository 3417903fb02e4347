import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { DstoreClient } from "../../client/dstore-client.ts";
import { nodeStatus } from "../../client/node-client.ts";
import { CLI, clientEnv, type NodeProcess, runCli, startNodeProcess } from "../helpers/cli.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { freePort } from "../helpers/ports.ts";

const NODES = 7;

// Nodes that die or stall while files move: a real chain, real node processes, the CLI.
describe("faults: nodes lost during upload and download", () => {
  let chain: LocalChain;
  let work: string;
  const nodes: NodeProcess[] = [];
  const ports: number[] = [];
  const dirs: string[] = [];
  let env: Record<string, string>;

  async function restart(i: number): Promise<void> {
    if (nodes[i]!.child.exitCode === null && nodes[i]!.child.signalCode === null) return;
    nodes[i] = await startNodeProcess({
      chain,
      account: i + 1,
      port: ports[i]!,
      dataDir: dirs[i]!,
    });
  }

  async function put(data: Buffer): Promise<{ fileId: string; placements: number[] }> {
    const path = join(work, `${randomBytes(4).toString("hex")}.bin`);
    await writeFile(path, data);
    const result = await runCli(["put", path, "--json"], env);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  }

  const byNodeId = (id: number) => nodes.find((node) => node.nodeId === id)!;

  beforeAll(async () => {
    chain = await startLocalChain();
    work = await tempDir("dstore-faults-");
    env = clientEnv(chain, work);
    for (let i = 0; i < NODES; i++) {
      ports.push(await freePort());
      dirs.push(await tempDir(`dstore-node-${i}-`));
    }
    nodes.push(
      ...(await Promise.all(
        ports.map((port, i) =>
          startNodeProcess({ chain, account: i + 1, port, dataDir: dirs[i]! }),
        ),
      )),
    );
  }, 120_000);

  beforeEach(async () => {
    for (let i = 0; i < NODES; i++) await restart(i);
  }, 60_000);

  afterAll(async () => {
    try {
      await Promise.all(nodes.map((node) => node.stop()));
      await chain?.stop();
    } finally {
      await removeTempDirs();
    }
  });

  it("stores the file when m nodes die during the upload, replacing them", async () => {
    const data = randomBytes(160 * 2 ** 20);
    const path = join(work, "big.bin");
    await writeFile(path, data);
    const child = spawn(process.execPath, [CLI, "put", path, "--json"], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const done = new Promise<number | null>((resolve) => child.once("exit", resolve));
    // Once shards are flowing into nodes (space reserved for uploads in flight), kill two.
    const victims: NodeProcess[] = [];
    while (victims.length < 2) {
      const statuses = await Promise.all(
        nodes.map((node) => nodeStatus(node.url).catch(() => undefined)),
      );
      for (const [i, status] of statuses.entries()) {
        if (victims.length < 2 && (status?.reserved ?? 0) > 0 && !victims.includes(nodes[i]!)) {
          nodes[i]!.child.kill("SIGKILL");
          victims.push(nodes[i]!);
        }
      }
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(victims).toHaveLength(2);
    expect(await done).toBe(0);
    const { fileId, placements } = JSON.parse(stdout) as { fileId: string; placements: number[] };
    for (const victim of victims) expect(placements).not.toContain(victim.nodeId);
    const out = join(work, "big.out");
    const get = await runCli(["get", fileId, "-o", out], env);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
  }, 120_000);

  it("returns identical bytes with m nodes down before the download", async () => {
    const data = randomBytes(13 * 2 ** 20 + 5);
    const { fileId, placements } = await put(data);
    await Promise.all(
      [byNodeId(placements[0]!), byNodeId(placements[3]!)].map((node) => node.stop()),
    );
    const out = join(work, "two-down.out");
    const get = await runCli(["get", fileId, "-o", out], env);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
  }, 60_000);

  it("fails with one clear line and leaves no file when more than m nodes are down", async () => {
    const { fileId, placements } = await put(randomBytes(3 * 2 ** 20));
    await Promise.all(placements.slice(0, 3).map((id) => byNodeId(id).stop()));
    const folder = await tempDir("dstore-out-");
    const out = join(folder, "never.out");
    const get = await runCli(["get", fileId, "-o", out], env);
    expect(get.code).not.toBe(0);
    expect(get.stderr.trim().split("\n")).toHaveLength(1);
    expect(get.stderr).toContain("shards");
    expect(existsSync(out)).toBe(false);
    expect(await readdir(folder)).toEqual([]);
  }, 60_000);

  it("returns identical bytes when a node dies in the middle of the download", async () => {
    const data = randomBytes(120 * 2 ** 20);
    const { fileId, placements } = await put(data);
    const out = join(work, "mid-download.out");
    const child = spawn(process.execPath, [CLI, "get", fileId, "-o", out], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const done = new Promise<number | null>((resolve) => child.once("exit", resolve));
    // Kill the node of data shard 1 as soon as the temporary output file appears.
    while (
      child.exitCode === null &&
      !(await readdir(work)).some((name) => name.startsWith(".mid-download.out"))
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    byNodeId(placements[1]!).child.kill("SIGKILL");
    expect(await done).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
  }, 60_000);

  it("stores files side by side through one library client (each transaction its own nonce)", async () => {
    const client = await DstoreClient.connect({
      rpcUrl: chain.rpcUrl,
      privateKey: devAccount(0).privateKey,
      fileRegistry: chain.fileRegistry,
      nodeRegistry: chain.nodeRegistry,
    });
    try {
      const files = [randomBytes(300_000), randomBytes(2_000_000), randomBytes(10)];
      const paths = await Promise.all(
        files.map(async (data, i) => {
          const path = join(work, `side-by-side-${i}`);
          await writeFile(path, data);
          return path;
        }),
      );
      const results = await Promise.all(paths.map((path) => client.upload(path)));
      // A path keeps its own name unless told otherwise, as with the CLI.
      const listed = new Map((await client.list()).map((file) => [file.fileId, file.name]));
      for (const [i, result] of results.entries())
        expect(listed.get(result.fileId)).toBe(`side-by-side-${i}`);
      for (const [i, result] of results.entries()) {
        const out = join(work, `side-by-side-${i}.out`);
        await client.download(result.fileId, out);
        expect((await readFile(out)).equals(files[i]!)).toBe(true);
      }
    } finally {
      await client.close();
    }
  }, 60_000);

  it("returns identical bytes when a node hangs, by asking another node", async () => {
    const data = randomBytes(6 * 2 ** 20);
    const { fileId, placements } = await put(data);
    const frozen = byNodeId(placements[0]!);
    frozen.child.kill("SIGSTOP");
    try {
      const out = join(work, "frozen.out");
      const get = await runCli(["get", fileId, "-o", out], env);
      expect(get.code, get.stderr).toBe(0);
      expect((await readFile(out)).equals(data)).toBe(true);
    } finally {
      frozen.child.kill("SIGCONT");
    }
  }, 60_000);
});
