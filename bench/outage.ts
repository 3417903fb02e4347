import type { ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DevnetInfo } from "../client/config.ts";
import { devAccount } from "../client/devnet/devnet.ts";
import { spawnStorageNode } from "../client/devnet/node-process.ts";
import { stopProcess, waitFor } from "../client/devnet/processes.ts";

type DevnetNode = DevnetInfo["nodes"][number];

/** A victim node's process: the devnet's own at first, then one started here. */
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

/** Whether process `pid` still exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Some of a devnet's storage nodes taken down and brought back, on their own data folders
 * and keys, as an operator restarts a node: so that gets with them down and gets with
 * every node up can run in turns.
 */
export class NodeOutage {
  readonly #devnet: DevnetInfo;
  readonly #victims: DevnetNode[];
  readonly #logDir: string;
  #running: (Running | undefined)[];

  constructor(devnet: DevnetInfo, victims: DevnetNode[], logDir: string) {
    this.#devnet = devnet;
    this.#victims = victims;
    this.#logDir = logDir;
    this.#running = victims.map((node) => ({ pid: node.pid }));
  }

  /** The victims' current process ids (none while they are down). */
  get pids(): number[] {
    return this.#running.flatMap((running) => (running ? [running.pid] : []));
  }

  /** Stop the victims and wait until they have exited: gone, not winding down. */
  async stop(): Promise<void> {
    const running = this.#running;
    this.#running = running.map(() => undefined);
    await Promise.all(
      running.map(async (victim) => {
        if (!victim) return;
        if (victim.child && victim.exited) return stopProcess(victim.child, victim.exited);
        if (!isRunning(victim.pid)) return;
        process.kill(victim.pid, "SIGTERM");
        await waitFor(async () => !isRunning(victim.pid), {
          timeout: 30_000,
          what: `node process ${victim.pid}'s exit`,
        });
      }),
    );
  }

  /** Start the stopped victims again and wait until they serve and their start is done. */
  async start(): Promise<void> {
    this.#running = await Promise.all(
      this.#victims.map(async (node, i) => {
        const running = this.#running[i];
        return running && isRunning(running.pid) ? running : this.#spawn(node);
      }),
    );
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

  /** Stop the nodes started here (the devnet stops its own). */
  async close(): Promise<void> {
    await Promise.all(
      this.#running.map((running) =>
        running?.child && running.exited ? stopProcess(running.child, running.exited) : undefined,
      ),
    );
  }
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
