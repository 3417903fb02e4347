import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { devAccount } from "../../client/devnet/devnet.ts";
import { spawnStorageNode } from "../../client/devnet/node-process.ts";
import { tempDir } from "./data-dir.ts";
import { type LocalChain, startLocalChain } from "./local-chain.ts";
import { freePort } from "./ports.ts";

export const CLI = fileURLToPath(new URL("../../client/dstore.js", import.meta.url));

/** Result of one CLI run. */
export interface CliResult {
  code: number | null;
  stdout: string;
  /** Standard output as bytes (a file a command wrote there). */
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * The environment of a `dstore` client of `chain`, as dev account 0, that finds no devnet
 * (`work` is a folder of the test's own).
 */
export function clientEnv(chain: LocalChain, work: string): Record<string, string> {
  return {
    ...chain.env,
    DSTORE_PRIVATE_KEY: devAccount(0).privateKey,
    DSTORE_DEVNET_DIR: join(work, "none"),
  };
}

/** Run `dstore <args>` to completion with an environment of its own (nothing inherited but PATH and HOME). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string } = {},
): Promise<CliResult> {
  return runScript(CLI, args, env, options);
}

/** Run a Node script to completion, collecting its output, with only PATH and HOME inherited. */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => {
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
  });
}

/** A storage node started as its own process through the CLI. */
export interface NodeProcess {
  url: string;
  nodeId: number;
  child: ChildProcess;
  exited: Promise<unknown>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/** Options of {@link startNodeProcess}. */
export interface NodeProcessOptions {
  chain: LocalChain;
  /** Hardhat test account of the operator (1 and up). */
  account: number;
  host?: string;
  port: number;
  dataDir: string;
  capacity?: string;
  /** The URL it registers on chain (default: its own). */
  endpoint?: string;
  env?: Record<string, string>;
  logFile?: string;
}

/** Start `dstore node start` and wait until it is registered and serving. */
export async function startNodeProcess(o: NodeProcessOptions): Promise<NodeProcess> {
  const node = await spawnStorageNode({
    dataDir: o.dataDir,
    host: o.host ?? "127.0.0.1",
    port: o.port,
    capacity: o.capacity ?? "1GiB",
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    output: o.logFile ? openSync(o.logFile, "a") : "ignore",
    env: {
      PATH: process.env.PATH ?? "",
      ...o.chain.env,
      DSTORE_PRIVATE_KEY: devAccount(o.account).privateKey,
      DSTORE_LOG_LEVEL: "warn",
      ...o.env,
    },
  });
  return {
    ...node,
    async stop() {
      if (node.child.exitCode === null && node.child.signalCode === null)
        node.child.kill("SIGTERM");
      await node.exited;
    },
  };
}

/** A fresh chain with one storage node (account 1, 1 GiB) logging to a temporary file. */
export interface ChainWithNode {
  chain: LocalChain;
  node: NodeProcess;
  dataDir: string;
}

/** Start {@link ChainWithNode}; `name` prefixes its temporary folders. */
export async function startChainWithNode(name: string): Promise<ChainWithNode> {
  const chain = await startLocalChain();
  const dataDir = await tempDir(`dstore-${name}-data-`);
  const node = await startNodeProcess({
    chain,
    account: 1,
    port: await freePort(),
    dataDir,
    capacity: "1GiB",
    logFile: join(await tempDir(`dstore-${name}-log-`), "node.log"),
  });
  return { chain, node, dataDir };
}
