import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runScript } from "../test/helpers/cli.ts";
import { type DevnetProcess, startDevnetProcess } from "../test/helpers/devnet.ts";
import { mbps, median, medianPerGiB, writeSeededFile } from "./data.ts";
import { cpuSecondsOf, NodeOutage } from "./outage.ts";

const MEASURE = fileURLToPath(new URL("./measure.js", import.meta.url));

/** One CLI run: wall seconds and peak RSS of the whole process. */
export interface CliRun {
  seconds: number;
  maxRssMiB: number;
  /**
   * CPU-seconds (user + system, every thread) the run cost: the CLI's own, and the
   * devnet's (its six nodes and the chain) meanwhile.
   */
  cpu: { client: number; network: number };
}

/** CPU-seconds the processes still running have used so far (NaN if none can be read). */
function cpuSecondsOfAll(pids: number[]): number {
  const known = pids.map(cpuSecondsOf).filter((seconds) => seconds !== undefined);
  return known.length === 0 ? Number.NaN : known.reduce((a, b) => a + b, 0);
}

/** Put and get of a 1-byte file: what a command costs whatever its size. */
export interface FixedCost {
  put: CliRun[];
  get: CliRun[];
}

/** Put and get results for one file size. */
export interface SizeResult {
  bytes: number;
  put: CliRun[];
  get: CliRun[];
  /** Get runs with two of the six nodes stopped (1 GiB only). */
  degradedGet?: CliRun[];
  /** Get runs of the same file with every node up, in turns with those. */
  healthyGet?: CliRun[];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 2 ** 20 }))
    hash.update(chunk);
  return hash.digest("hex");
}

/** Run the dstore CLI under bench/measure.js; returns its stdout and measured usage. */
async function runMeasured(
  args: string[],
  env: Record<string, string>,
  work: string,
  network: number[],
): Promise<{ stdout: string; run: CliRun }> {
  const usageFile = join(work, `usage-${Date.now()}-${Math.random()}.json`);
  const networkBefore = cpuSecondsOfAll(network);
  const started = performance.now();
  const { code, stdout, stderr } = await runScript(MEASURE, args, {
    ...env,
    DSTORE_BENCH_USAGE_FILE: usageFile,
  });
  const seconds = (performance.now() - started) / 1000;
  const networkUsed = cpuSecondsOfAll(network) - networkBefore;
  if (code !== 0) throw new Error(`dstore ${args.join(" ")} failed: ${stderr}`);
  const usage = JSON.parse(await readFile(usageFile, "utf8")) as {
    maxRSS: number;
    userCPUTime: number;
    systemCPUTime: number;
  };
  await rm(usageFile, { force: true });
  const client = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  return {
    stdout,
    run: { seconds, maxRssMiB: usage.maxRSS / 1024, cpu: { client, network: networkUsed } },
  };
}

/**
 * Put and get a 1-byte file (the fixed cost of a command: Node's start, the chain reads,
 * the key, the nodes' connections), then seeded files of each size, through a fresh
 * 6-node devnet (4 + 2), checking every download byte for byte, then get the file of
 * `degradedBytes` `pairs` times with every node up and as many with two nodes stopped.
 */
export async function measureEndToEnd(
  sizes: { bytes: number; runs: number }[],
  degradedBytes: number | undefined,
  fixedRuns: number,
  pairs: number,
  log: (line: string) => void,
): Promise<{ fixed: FixedCost; sizes: SizeResult[] }> {
  const work = await mkdtemp(join(tmpdir(), "dstore-bench-e2e-"));
  const devnetDir = join(work, "devnet");
  let devnet: DevnetProcess | undefined;
  let outage: NodeOutage | undefined;
  const results: SizeResult[] = [];
  try {
    devnet = await startDevnetProcess(devnetDir, 6);
    const env = { DSTORE_DEVNET_DIR: devnetDir };
    const network = [...devnet.info.nodes.map((node) => node.pid), devnet.info.chainPid];
    const fixed: FixedCost = { put: [], get: [] };
    const tiny = join(work, "input-tiny");
    await writeFile(tiny, "x");
    for (let i = 0; i < fixedRuns; i++) {
      const put = await runMeasured(["put", tiny, "--json"], env, work, network);
      const { fileId } = JSON.parse(put.stdout) as { fileId: string };
      const output = join(work, "output-tiny");
      const get = await runMeasured(["get", fileId, "-o", output], env, work, network);
      if ((await readFile(output, "utf8")) !== "x")
        throw new Error("the 1-byte file came back different");
      await rm(output);
      await runMeasured(["rm", fileId], env, work, network);
      fixed.put.push(put.run);
      fixed.get.push(get.run);
      log(
        `  1-byte file run ${i + 1}: put ${put.run.seconds.toFixed(2)} s, get ${get.run.seconds.toFixed(2)} s`,
      );
    }
    let degradedId: string | undefined;
    let degradedHash = "";
    let placements: number[] = [];
    for (const { bytes, runs } of sizes) {
      const input = join(work, `input-${bytes}`);
      await writeSeededFile(input, bytes, `dstore-bench-${bytes}`);
      const expected = await sha256File(input);
      const result: SizeResult = { bytes, put: [], get: [] };
      for (let i = 0; i < runs; i++) {
        const put = await runMeasured(["put", input, "--json"], env, work, network);
        result.put.push(put.run);
        const { fileId, placements: placed } = JSON.parse(put.stdout) as {
          fileId: string;
          placements: number[];
        };
        const output = join(work, `output-${bytes}-${i}`);
        const get = await runMeasured(["get", fileId, "-o", output], env, work, network);
        result.get.push(get.run);
        if ((await sha256File(output)) !== expected)
          throw new Error(`the ${bytes}-byte file came back different`);
        await rm(output);
        if (bytes === degradedBytes && degradedId === undefined) {
          degradedId = fileId;
          degradedHash = expected;
          placements = placed;
        } else {
          await runMeasured(["rm", fileId], env, work, network);
        }
        log(
          `  ${(bytes / 2 ** 20).toFixed(0).padStart(5)} MiB run ${i + 1}: put ${mbps(bytes, put.run.seconds).toFixed(0)} MB/s ` +
            `(${put.run.maxRssMiB.toFixed(0)} MiB RSS), get ${mbps(bytes, get.run.seconds).toFixed(0)} MB/s ` +
            `(${get.run.maxRssMiB.toFixed(0)} MiB RSS)`,
        );
      }
      await rm(input);
      results.push(result);
    }
    if (degradedId && degradedBytes) {
      const entry = results.find((r) => r.bytes === degradedBytes)!;
      // The same file, with every node up and with the nodes of two data shards stopped
      // (every segment rebuilt from parity), in turns: healthy, degraded, degraded,
      // healthy, healthy, ... The two differ only in the nodes that answer, and a drift of
      // the host's disk over the minutes they take falls on both alike (one set after the
      // other, their ratio swung 0.86-1.07 from run to run). Before each pair of turns
      // every node is restarted on its own data, the two left down for a degraded pair,
      // so that both sets are served by processes of the same age (bench/outage.ts). The
      // j-th of each run side by side, one on each side of a restart (turns 0 and 1, 2
      // and 3, ...). Nine of each in a full run: with three, the medians of two identical
      // sets differed by ~10 %.
      outage = new NodeOutage(devnet.info, work);
      const victims = devnet.info.nodes.filter(
        (node) => node.nodeId === placements[0] || node.nodeId === placements[1],
      );
      const healthy: CliRun[] = [];
      const degraded: CliRun[] = [];
      for (let i = 0; i < 2 * pairs; i++) {
        const down = Math.floor((i + 1) / 2) % 2 === 1;
        if (i === 0 || i % 2 === 1) await outage.restart(down ? victims : []);
        // A node that died since would turn a healthy get into a rebuild unseen.
        outage.checkRunning();
        // The CPU of the network: the node processes of the moment, and the chain.
        const network = [...outage.pids, devnet.info.chainPid];
        const kind = down ? "degraded" : "healthy";
        const output = join(work, `${kind}-${i}`);
        const get = await runMeasured(["get", degradedId, "-o", output], env, work, network);
        if ((await sha256File(output)) !== degradedHash)
          throw new Error(`the ${kind} download came back different`);
        await rm(output);
        (down ? degraded : healthy).push(get.run);
        log(
          `  ${kind} get run ${(down ? degraded : healthy).length}: ${mbps(degradedBytes, get.run.seconds).toFixed(0)} MB/s`,
        );
      }
      entry.healthyGet = healthy;
      entry.degradedGet = degraded;
    }
    return { fixed, sizes: results };
  } finally {
    await outage?.close();
    await devnet?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Median CPU-seconds per GiB of user data of some runs of a file of `bytes`. */
export function medianCpuPerGiB(
  bytes: number,
  runs: CliRun[],
): { client: number; network: number } {
  return {
    client: medianPerGiB(
      bytes,
      runs.map((run) => run.cpu.client),
    ),
    network: medianPerGiB(
      bytes,
      runs.map((run) => run.cpu.network),
    ),
  };
}

/** Median throughput (MB/s) of some runs of a file of `bytes`. */
export function medianMbps(bytes: number, runs: CliRun[]): number {
  return mbps(bytes, median(runs.map((run) => run.seconds)));
}
