import { type ChildProcess, spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { projectModule } from "../module-paths.ts";
import { nodeStatus } from "../node-client.ts";
import { waitFor } from "./processes.ts";

const CLI = projectModule("client/cli");

/** A storage node running as its own `dstore node start` process. */
export interface NodeProcess {
  url: string;
  nodeId: number;
  child: ChildProcess;
  exited: Promise<unknown>;
}

/** Options of {@link spawnStorageNode}. */
export interface SpawnNodeOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Capacity as the CLI takes it, e.g. `10GiB`. */
  capacity: string;
  /** The URL it registers on chain (default: http://host:port). */
  endpoint?: string;
  /** The whole environment of the process: chain settings and the operator's key. */
  env: NodeJS.ProcessEnv;
  /** Where its output goes: a file descriptor (handed over: closed here once the process has it), or nowhere. */
  output: number | "ignore";
  /** Its own process group, so a Ctrl-C meant for a parent does not reach it. */
  detached?: boolean;
  /** Names the node in errors, e.g. where its log is. */
  what?: string;
}

/** Start a storage node process and wait until it is registered on chain and serving. */
export async function spawnStorageNode(o: SpawnNodeOptions): Promise<NodeProcess> {
  const args = [
    "node",
    "start",
    "--data-dir",
    o.dataDir,
    "--host",
    o.host,
    "--port",
    String(o.port),
    ...(o.endpoint === undefined ? [] : ["--endpoint", o.endpoint]),
  ];
  const child = spawn(process.execPath, [CLI, ...args, "--capacity", o.capacity], {
    detached: o.detached ?? false,
    stdio: ["ignore", o.output, o.output],
    env: o.env,
  });
  if (typeof o.output === "number") closeSync(o.output);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = `http://${o.host}:${o.port}`;
  let nodeId = 0;
  try {
    await waitFor(
      async () => {
        nodeId = (await nodeStatus(url)).nodeId;
        return nodeId > 0;
      },
      { timeout: 120_000, exited, what: o.what ?? `storage node on ${url}` },
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return { url, nodeId, child, exited };
}
