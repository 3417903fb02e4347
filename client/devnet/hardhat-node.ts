import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DstoreError } from "../errors.ts";
import { PROJECT_ROOT } from "../module-paths.ts";
import { stopProcess, waitFor } from "./processes.ts";

/** A `hardhat node` child process. */
export interface ChainProcess {
  rpcUrl: string;
  pid: number;
  stop(): Promise<void>;
}

/** Options of {@link startHardhatNode}. */
export interface HardhatNodeOptions {
  host: string;
  port: number;
  /** Unix seconds of the genesis block (to resume a saved chain); now when absent. */
  genesis?: number;
  /** File that receives the node's output. */
  logFile: string;
}

/**
 * Start `hardhat node --network devnet` in its own process group (so a Ctrl-C reaches the
 * devnet, which stops it in order) and wait until it answers JSON-RPC.
 */
export async function startHardhatNode(o: HardhatNodeOptions): Promise<ChainProcess> {
  const hardhatPackage = createRequire(import.meta.url).resolve("hardhat/package.json");
  const cli = join(dirname(hardhatPackage), "dist", "src", "cli.js");
  const log = openSync(o.logFile, "a");
  const child = spawn(
    process.execPath,
    [cli, "node", "--network", "devnet", "--hostname", o.host, "--port", String(o.port)],
    {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ["ignore", log, log],
      env: {
        ...process.env,
        ...(o.genesis === undefined ? {} : { DSTORE_DEVNET_GENESIS: String(o.genesis) }),
      },
    },
  );
  closeSync(log);
  const rpcUrl = `http://${o.host}:${o.port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    await waitFor(() => answersJsonRpc(rpcUrl), {
      timeout: 120_000,
      exited,
      what: "the Hardhat chain",
    });
  } catch (cause) {
    child.kill("SIGKILL");
    const tail = (await readFile(o.logFile, "utf8").catch(() => ""))
      .trim()
      .split("\n")
      .slice(-3)
      .join(" | ");
    throw new DstoreError("ChainError", `the Hardhat chain did not start on ${rpcUrl}: ${tail}`, {
      cause,
    });
  }
  return { rpcUrl, pid: child.pid!, stop: () => stopProcess(child, exited) };
}

/** Whether a JSON-RPC server at `url` answers `eth_chainId`. */
export async function answersJsonRpc(url: string): Promise<boolean> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(2000),
  });
  return (
    response.ok && typeof ((await response.json()) as { result?: unknown }).result === "string"
  );
}
