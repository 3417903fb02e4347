import type { ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DevnetInfo } from "../client/config.ts";
import { devAccount } from "../client/devnet/devnet.ts";
import { spawnStorageNode } from "../client/devnet/node-process.ts";
import { isAlive, stopProcess, waitFor } from "../client/devnet/processes.ts";

type DevnetNode = DevnetInfo["nodes"][number];

/** A node's process: the devnet's own at first, then one started here. */
interface Running {
  pid: number;
  child?: ChildProcess;
  exited?: Promise<unknown>;
}

/** CPU-seconds a process has used so far (Linux /proc; undefined elsewhere or once gone). */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * A devnet's storage nodes, restarted together (on their own data folders and keys, as
 * an operator restarts a node) with some of them left down: so that gets with nodes down
 * and gets with every node up run in turns, each set served by processes as new as the
 * other's. Node processes started at different times can serve differently: on a
 * devnet, 1 GiB gets served by its own nodes took ~1280 direct-I/O read requests, and
 * with two of the four restarted ~960, and ran ~15 % faster in that test (a request spans
 * only physically contiguous pages of the node's buffers, and those differ from process to
 * process); restarting all six there showed no steady difference.
 */
export class NodeOutage {
  readonly #devnet: DevnetInfo;
  readonly #logDir: string;
  #running: Running[];

  constructor(devnet: DevnetInfo, logDir: string) {
    this.#devnet = devnet;
    this.#logDir = logDir;
    this.#running = devnet.nodes.map((node) => ({ pid: node.pid }));
  }

  /** The node processes running now. */
  get pids(): number[] {
    return this.#running.map((running) => running.pid);
  }

  /**
   * Stop every node and wait until each has exited (gone, not winding down), then start
   * all but `down` and wait until they serve and their start's CPU has settled.
   */
  async restart(down: DevnetNode[]): Promise<void> {
    const running = this.#running;
    this.#running = [];
    await Promise.all(running.map(stop));
    const up = this.#devnet.nodes.filter((node) => !down.includes(node));
    // Every node that started is kept, to be stopped by close() if another failed.
    const started = await Promise.allSettled(up.map((node) => this.#spawn(node)));
    this.#running = started.flatMap((outcome) =>
      outcome.status === "fulfilled" ? [outcome.value] : [],
    );
    const failure = started.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
    await waitQuiet(this.pids);
  }

  async #spawn(node: DevnetNode): Promise<Running> {
    const index = Array.from({ length: this.#devnet.nodes.length }, (_, i) => i + 1).find(
      (i) => devAccount(i).address === node.operator,
    );
    if (index === undefined) throw new Error(`no devnet account runs node ${node.nodeId}`);
    const url = new URL(node.url);
    const { child, exited } = await spawnStorageNode({
      dataDir: node.dataDir,
      host: url.hostname,
      port: Number(url.port),
      capacity: "2GiB",
      output: openSync(join(this.#logDir, `node-${node.nodeId}-restarted.log`), "a"),
      what: `restarted storage node ${node.nodeId}`,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        // As quiet as the devnet's own nodes (test/helpers/devnet.ts).
        DSTORE_LOG_LEVEL: "warn",
        DSTORE_RPC_URL: this.#devnet.rpcUrl,
        DSTORE_PRIVATE_KEY: devAccount(index).privateKey,
        DSTORE_FILE_REGISTRY: this.#devnet.fileRegistry,
        DSTORE_NODE_REGISTRY: this.#devnet.nodeRegistry,
        DSTORE_FROM_BLOCK: String(this.#devnet.fromBlock),
      },
    });
    return { pid: child.pid!, child, exited };
  }

  /** Throw if a node started here has exited since. */
  checkRunning(): void {
    const gone = this.#running.find((running) => running.child && !isAlive(running.pid));
    if (gone) throw new Error(`restarted storage node process ${gone.pid} exited`);
  }

  /** Stop the nodes started here (the devnet stops its own). */
  async close(): Promise<void> {
    await Promise.all(this.#running.filter((running) => running.child).map(stop));
  }
}

/** Stop a node process and wait until it has exited. */
async function stop(running: Running): Promise<void> {
  if (running.child && running.exited) return stopProcess(running.child, running.exited);
  if (!isAlive(running.pid)) return;
  process.kill(running.pid, "SIGTERM");
  await waitFor(async () => !isAlive(running.pid), {
    timeout: 30_000,
    what: `node process ${running.pid}'s exit`,
  });
}

/** Wait until `pids` together use under a tenth of a core (a node's start is done). */
async function waitQuiet(pids: number[]): Promise<void> {
  const used = () => pids.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0);
  let last = { cpu: used(), at: performance.now() };
  await waitFor(
    async () => {
      const now = { cpu: used(), at: performance.now() };
      const busy = (now.cpu - last.cpu) / ((now.at - last.at) / 1000);
      const longEnough = now.at - last.at >= 200;
      if (longEnough) last = now;
      return longEnough && busy < 0.1;
    },
    { timeout: 30_000, what: "the restarted nodes' start" },
  );
}
