import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DevnetInfo } from "../../client/config.ts";
import { CLI } from "./cli.ts";
import { freePort } from "./ports.ts";

/** A `dstore devnet` process, as a user starts it with `npm start`. */
export interface DevnetProcess {
  info: DevnetInfo;
  child: ChildProcess;
  /** What it printed on stderr so far. */
  output(): string;
  /** Ctrl-C: SIGINT, then wait for it to exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** `count` consecutive free ports on 127.0.0.1. */
export async function freePortRange(count: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + count > 65_000) continue;
    const free = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        import("node:net").then(
          ({ createServer }) =>
            new Promise<boolean>((resolve) => {
              const server = createServer();
              server.once("error", () => resolve(false));
              server.listen(base + i, "127.0.0.1", () => server.close(() => resolve(true)));
            }),
        ),
      ),
    );
    if (free.every(Boolean)) return base;
  }
}

/** Start `dstore devnet` with its state in `dir` and wait for its `devnet ready` line. */
export async function startDevnetProcess(dir: string, nodes = 6): Promise<DevnetProcess> {
  const chainPort = await freePort();
  const nodePort = await freePortRange(nodes);
  const child = spawn(
    process.execPath,
    [
      CLI,
      "devnet",
      "--nodes",
      String(nodes),
      "--chain-port",
      String(chainPort),
      "--node-port",
      String(nodePort),
      "--capacity",
      "2GiB",
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DSTORE_DEVNET_DIR: dir,
        DSTORE_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (stderr.includes("devnet ready")) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`devnet exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  const info = JSON.parse(await readFile(join(dir, "devnet.json"), "utf8")) as DevnetInfo;
  return {
    info,
    child,
    output: () => stderr,
    async stop() {
      child.kill("SIGINT");
      return exited;
    },
  };
}
