import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, constants, createReadStream, existsSync, openSync } from "node:fs";
import { lstat, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileId, shardIdOf } from "../../client/protocol/shard-id.ts";
import { CLI, runCli } from "../helpers/cli.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import { type DevnetProcess, startDevnetProcess } from "../helpers/devnet.ts";
import { freePort } from "../helpers/ports.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";

// The product as a user meets it: `npm start` (dstore devnet), then the dstore CLI.
describe("dstore devnet and the CLI, end to end", () => {
  let dir: string;
  let work: string;
  let devnet: DevnetProcess;
  const env = () => ({ DSTORE_DEVNET_DIR: dir });
  const stored = new Map<string, { path: string; data: Buffer }>();

  let lastPlacements: number[] = [];
  async function put(name: string, data: Buffer): Promise<string> {
    const path = join(work, name);
    await writeFile(path, data);
    const result = await runCli(["put", path, "--json"], env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const { fileId, placements } = JSON.parse(result.stdout) as {
      fileId: string;
      placements: number[];
    };
    stored.set(fileId, { path, data });
    lastPlacements = placements;
    return fileId;
  }

  beforeAll(async () => {
    dir = await tempDir("dstore-devnet-");
    work = await tempDir("dstore-work-");
    devnet = await startDevnetProcess(dir);
  }, 180_000);

  afterAll(async () => {
    try {
      await devnet?.stop();
    } finally {
      await removeTempDirs();
    }
  });

  it("starts a chain and 6 registered nodes and writes devnet.json", () => {
    expect(devnet.output()).toContain("devnet ready");
    const { info } = devnet;
    expect(info.nodes).toHaveLength(6);
    expect(info.nodes.map((node) => node.nodeId).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const node of info.nodes) {
      expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(node.operator).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect(existsSync(node.dataDir)).toBe(true);
    }
    expect(new Set(info.nodes.map((node) => node.operator)).size).toBe(6);
  });

  it("lists the 6 nodes as online", async () => {
    const result = await runCli(["nodes", "--json"], env());
    expect(result.code).toBe(0);
    const nodes = JSON.parse(result.stdout) as { online: boolean }[];
    expect(nodes.filter((node) => node.online)).toHaveLength(6);
  });

  it.each([
    ["empty", 0],
    ["one byte", 1],
    ["a segment minus one", 4 * 2 ** 20 - 1],
    ["a segment plus one", 4 * 2 ** 20 + 1],
    ["several segments", 25 * 2 ** 20 + 12345],
  ])(
    "stores and returns a file that is %s, byte for byte",
    async (label, size) => {
      const data = randomBytes(size);
      const fileId = await put(`${label.replaceAll(" ", "-")}.bin`, data);
      expect(fileId).toMatch(/^0x[0-9a-f]{64}$/);
      // Opened on the main thread (a small file), then by a codec worker.
      for (const workers of ["", "1"]) {
        const out = join(work, `${fileId}.${workers}.out`);
        const result = await runCli(["get", fileId, "-o", out], {
          ...env(),
          DSTORE_WORKERS: workers,
        });
        expect(result.code).toBe(0);
        expect(result.stdout.trim()).toBe(out);
        expect((await readFile(out)).equals(data)).toBe(true);
      }
    },
    120_000,
  );

  it("lists the account's files with their names, from the chain", async () => {
    const result = await runCli(["ls", "--json"], env());
    expect(result.code).toBe(0);
    const files = JSON.parse(result.stdout) as { fileId: string; name: string; size: number }[];
    for (const [fileId, { path, data }] of stored) {
      const entry = files.find((file) => file.fileId === fileId);
      expect(entry?.size).toBe(data.length);
      expect(entry?.name).toBe(path.split("/").at(-1));
    }
  });

  it("writes a file under its stored name into a folder and refuses to overwrite it", async () => {
    const data = randomBytes(1000);
    const fileId = await put("named.txt", data);
    const into = await tempDir("dstore-into-");
    const first = await runCli(["get", fileId, "-o", into], env());
    expect(first.code).toBe(0);
    expect((await readFile(join(into, "named.txt"))).equals(data)).toBe(true);
    const again = await runCli(["get", fileId, "-o", into], env());
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("exists");
    const forced = await runCli(["get", fileId, "-o", into, "--force", "--fsync"], env());
    expect(forced.code).toBe(0);
    expect((await readFile(join(into, "named.txt"))).equals(data)).toBe(true);
  });

  it("writes a file to standard output with -o -, and into a named pipe in place", async () => {
    const data = randomBytes(9 * 2 ** 20 + 77);
    const fileId = await put("piped.bin", data);
    const plain = await runCli(["get", fileId, "-o", "-"], env());
    expect(plain.stderr).toBe("");
    expect(plain.code).toBe(0);
    expect(plain.stdoutBytes.equals(data)).toBe(true);
    // With --json the result goes to stderr: stdout is the file's alone.
    const json = await runCli(["get", fileId, "-o", "-", "--json"], env());
    expect(json.code).toBe(0);
    expect(json.stdoutBytes.equals(data)).toBe(true);
    expect(JSON.parse(json.stderr)).toMatchObject({ fileId, path: "-", size: data.length });
    // So when standard output is named by its path.
    const named = await runCli(["get", fileId, "-o", "/dev/stdout"], env());
    expect(named.code).toBe(0);
    expect(named.stdoutBytes.equals(data)).toBe(true);

    // A device or a pipe is written as it is (as cp does), never replaced by a new file.
    const pipe = join(work, "pipe");
    execFileSync("mkfifo", [pipe]);
    const received: Buffer[] = [];
    const reading = new Promise<void>((resolve, reject) =>
      createReadStream(pipe)
        .on("data", (chunk) => received.push(chunk as Buffer))
        .once("end", resolve)
        .once("error", reject),
    );
    try {
      const intoPipe = await runCli(["get", fileId, "-o", pipe], env());
      expect(intoPipe.stderr).toBe("");
      expect(intoPipe.code).toBe(0);
      await reading;
    } finally {
      // Had the CLI not opened the pipe, the reader's open would wait forever: let it go.
      try {
        closeSync(openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // The reader is done (no reader left: ENXIO).
      }
    }
    expect(Buffer.concat(received).equals(data)).toBe(true);
    expect((await lstat(pipe)).isFIFO()).toBe(true);
    expect((await readdir(work)).filter((name) => name.endsWith(".part"))).toEqual([]);
  });

  it("fails with one line when standard output is a file on a disk that fills up", async () => {
    const fileId = await put("too-big-for-stdout.bin", randomBytes(7 * 2 ** 20));
    const disk = mountTmpfs("6m");
    try {
      const out = openSync(join(disk.dir, "out"), "w");
      const child = spawn(process.execPath, [CLI, "get", fileId, "-o", "-"], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env() },
        stdio: ["ignore", out, "pipe"],
      });
      closeSync(out);
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise((resolve) => child.once("close", resolve));
      expect(code).not.toBe(0);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toMatch(/writing standard output failed: .*ENOSPC/);
    } finally {
      disk.unmount();
    }
  }, 60_000);

  it("fails with one line and leaves nothing behind when the output's disk fills up", async () => {
    // Two segments on a 6 MiB disk: the first fits, and the disk fills in the middle of
    // the last one's write, which then takes fewer bytes than asked (no error yet).
    const fileId = await put("too-big.bin", randomBytes(7 * 2 ** 20));
    const disk = mountTmpfs("6m");
    try {
      const result = await runCli(["get", fileId, "-o", join(disk.dir, "too-big.bin")], env());
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/writing .*too-big\.bin failed: .*ENOSPC/);
      expect(await readdir(disk.dir)).toEqual([]);
    } finally {
      disk.unmount();
    }
  }, 60_000);

  it("returns identical bytes when a shard on a node's disk is corrupted", async () => {
    const data = randomBytes(9 * 2 ** 20);
    const fileId = await put("to-corrupt.bin", data);
    // Damage data shard 0, which a download reads first.
    const node = devnet.info.nodes.find((n) => n.nodeId === lastPlacements[0])!;
    const shardId = shardIdOf(fileId as FileId, 0);
    const file = join(node.dataDir, "shards", shardId.slice(0, 2), shardId);
    const bytes = await readFile(file);
    for (let at = 0; at < bytes.length; at += 4096) bytes[at]! ^= 0xff;
    await writeFile(file, bytes);
    const out = join(work, "corrupted.out");
    const result = await runCli(["get", fileId, "-o", out], env());
    expect(result.code).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(result.stderr.match(/shard 0 .* is corrupt/g)).toHaveLength(1);
  }, 60_000);

  it("deletes a file on chain and from its nodes", async () => {
    const fileId = await put("to-delete.bin", randomBytes(50_000));
    const result = await runCli(["rm", fileId], env());
    expect(result.code).toBe(0);
    const listed = JSON.parse((await runCli(["ls", "--json"], env())).stdout) as {
      fileId: string;
    }[];
    expect(listed.some((file) => file.fileId === fileId)).toBe(false);
    const get = await runCli(["get", fileId, "-o", join(work, "deleted.out")], env());
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain("no file");
    stored.delete(fileId);
  });

  it("prints one line on stderr and exits non-zero on bad input", async () => {
    for (const args of [
      ["get", "0x1234"],
      ["put", join(work, "missing")],
      ["put", "-k", "0", join(work, "named.txt")],
      ["bogus"],
    ]) {
      const result = await runCli(args, env());
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    const nowhere = "0x000000000000000000000000000000000000dEaD";
    for (const [flags, message] of [
      [["--file-registry", nowhere], `no FileRegistry contract at ${nowhere}`],
      [["--node-registry", "0x1234"], "the NodeRegistry address is not an address: 0x1234"],
      [
        [
          ...["--rpc-url", `http://127.0.0.1:${await freePort()}`],
          ...["--file-registry", nowhere, "--node-registry", nowhere],
        ],
        "cannot reach the chain at",
      ],
    ] as const) {
      const wrong = await runCli([...flags, "ls"], env());
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
      expect(wrong.stderr).toContain(message);
    }
  });

  it("keeps every file across a stop and a new start", async () => {
    expect(await devnet.stop()).toBe(0);
    expect(existsSync(join(dir, "devnet.json"))).toBe(false);
    devnet = await startDevnetProcess(dir);
    expect(devnet.output()).toMatch(/resumed \d+ blocks/);
    const files = JSON.parse((await runCli(["ls", "--json"], env())).stdout) as {
      fileId: string;
    }[];
    expect(files.map((file) => file.fileId).sort()).toEqual([...stored.keys()].sort());
    for (const [fileId, { data }] of stored) {
      const out = join(work, `${fileId}.after-restart`);
      const result = await runCli(["get", fileId, "-o", out], env());
      expect(result.code).toBe(0);
      expect((await readFile(out)).equals(data)).toBe(true);
    }
  }, 180_000);

  it("lists and fetches every file from an empty home with only the key, RPC URL and addresses", async () => {
    const empty = await tempDir("dstore-empty-home-");
    const { info } = devnet;
    const keyOnly = {
      HOME: empty,
      DSTORE_DEVNET_DIR: join(empty, "no-devnet-here"),
      DSTORE_RPC_URL: info.rpcUrl,
      DSTORE_PRIVATE_KEY: info.client.privateKey,
      DSTORE_FILE_REGISTRY: info.fileRegistry,
      DSTORE_NODE_REGISTRY: info.nodeRegistry,
    };
    const listed = await runCli(["ls", "--json"], keyOnly, { cwd: empty });
    expect(listed.code).toBe(0);
    const files = JSON.parse(listed.stdout) as { fileId: string; name: string }[];
    expect(files.map((file) => file.fileId).sort()).toEqual([...stored.keys()].sort());
    for (const file of files) {
      const result = await runCli(["get", file.fileId], keyOnly, { cwd: empty });
      expect(result.code).toBe(0);
      expect((await readFile(join(empty, file.name))).equals(stored.get(file.fileId)!.data)).toBe(
        true,
      );
    }
    const stranger = await runCli(
      ["ls", "--json"],
      { ...keyOnly, DSTORE_PRIVATE_KEY: `0x${"11".repeat(32)}` },
      { cwd: empty },
    );
    expect(JSON.parse(stranger.stdout)).toEqual([]);
  }, 120_000);
});
