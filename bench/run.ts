// `npm run bench`: measures dstore on this machine next to its limits and a peer, and
// records the results in bench/results.md, bench/results.json and bench/throughput.svg.
// Flags: --quick (small files, one run; for trying the harness), --label "text" (names
// this run in the history), --skip-peer.
import { readFile, writeFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measureChainCost } from "./chain-cost.ts";
import { throughputChart } from "./chart.ts";
import { mbps, median, medianPerGiB } from "./data.ts";
import {
  type CliRun,
  measureEndToEnd,
  medianCpuPerGiB,
  medianMbps,
  type SizeResult,
} from "./end-to-end.ts";
import { measureNodeLoad } from "./node-load.ts";
import { measurePeer, peerMbps } from "./peer.ts";
import { measureStages, mergeStages, type StageResult } from "./stages.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean" },
    label: { type: "string" },
    "skip-peer": { type: "boolean" },
  },
});
const quick = flags.quick === true;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const log = (line: string) => process.stdout.write(`${line}\n`);

const machine = `${cpus()[0]?.model.trim() ?? "?"}, ${cpus().length} cores, ${(totalmem() / GiB).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const runs = quick ? 1 : 3;
const mainSize = quick ? 256 * MiB : GiB;
log(`dstore benchmarks on ${machine}${quick ? " (quick)" : ""}`);

// The stages are measured before and after the end-to-end runs and the ceiling comes
// from both: this host's speed drifts by minutes (AES-GCM ran at 0.8 GB/s in one run and
// 4.9 GB/s in the next), and a ceiling from one moment only swung the ratios with it.
log("\nstages (one thread each, but the disk's), before the end-to-end runs:");
const stagesBefore = await measureStages(runs, log);

log("\nnode under 64 concurrent uploads:");
const load = await measureNodeLoad(64, quick ? 4 * MiB : 16 * MiB, runs);
log(
  `  ${load.uploads} × ${load.bytesEach / MiB} MiB, ${runs} run(s), a fresh node each: event-loop delay p99 ${load.runs.map((r) => r.p99Ms.toFixed(1)).join(", ")} ms (median ${load.p99Ms.toFixed(1)}, max of that run ${load.maxMs.toFixed(1)}), ${load.seconds.toFixed(1)} s`,
);

log("\nend to end through a 6-node devnet (4+2):");
const sizes = quick
  ? [
      { bytes: 64 * MiB, runs: 1 },
      { bytes: 256 * MiB, runs: 1 },
    ]
  : [
      { bytes: 64 * MiB, runs: 3 },
      { bytes: GiB, runs: 3 },
      { bytes: 4 * GiB, runs: 1 },
    ];
const { fixed, sizes: e2e } = await measureEndToEnd(
  sizes,
  mainSize,
  quick ? 1 : 5,
  quick ? 3 : 9,
  log,
);
let stagesAfter: StageResult[] | undefined;
if (!quick) {
  log("\nstages again, after the end-to-end runs:");
  stagesAfter = await measureStages(runs, log);
}
const stages = stagesAfter ? mergeStages(stagesBefore, stagesAfter) : stagesBefore;

// The pipeline ceiling: the work any implementation of this data path must do per byte
// of user data, from stages measured alone. CPU work (the seconds each stage takes on one
// core) is summed and spread over the machine's cores at the speedup they were measured to
// give together; disk work (seconds of the device) is summed on its own, the disk being
// one device (a get's reads and writes are timed together, as the device may serve both at
// once); the slower of the two bounds.
const k = 4;
const m = 2;
const stretch = (k + m) / k;
const cores = cpus().length;
const stage = (name: string) => stages.find((s) => s.name === name)!;
const rate = (name: string) => stage(name).mbps * 1e6;
const cpuOf = (name: string) => stage(name).cpuPerByte ?? 1 / rate(name);
/** How many cores' worth of work the cores do at once (at most their number). */
const speedup = Math.min(
  cores,
  rate("SHA-256 Merkle, every core at once") / rate("SHA-256 Merkle, one worker"),
);
interface Costs {
  cpu: Record<string, number>;
  disk: Record<string, number>;
}
const putCost: Costs = {
  cpu: {
    "input read (page cache)": cpuOf("file read, page cache"),
    "encrypt (AES-GCM)": 1 / rate("AES-256-GCM seal"),
    "erasure-code (RS 4+2)": 1 / rate("Reed-Solomon encode 4+2"),
    "client Merkle roots (×1.5)": stretch / rate("SHA-256 Merkle, 1 MiB subtrees"),
    "node Merkle check (×1.5)": stretch / rate("SHA-256 Merkle, streamed"),
    "loopback upload (×1.5)": stretch / rate("loopback upload (upgraded)"),
    "node disk write (×1.5)": stretch * cpuOf("disk write, direct"),
  },
  disk: { "shards written (×1.5)": stretch / rate("disk write, direct") },
};
const getCost: Costs = {
  cpu: {
    "loopback HTTP GET (k shards = ×1)": 1 / rate("loopback HTTP GET (raw)"),
    "decrypt (AES-GCM)": 1 / rate("AES-256-GCM open"),
    "node disk read": cpuOf("disk read, direct"),
    "output disk write": cpuOf("disk write, direct, not flushed"),
  },
  disk: {
    "shards read and output written, at once (k shards = ×1)":
      1 / rate("disk read + write at once, direct"),
  },
};
const sum = (costs: Record<string, number>) => Object.values(costs).reduce((a, b) => a + b, 0);
const bounds = (costs: Costs, over = speedup) => ({
  cpu: over / sum(costs.cpu) / 1e6,
  disk: 1 / sum(costs.disk) / 1e6,
});
const ceilingOf = (costs: Costs, over = speedup) => Math.min(...Object.values(bounds(costs, over)));
const putCeiling = ceilingOf(putCost);
const getCeiling = ceilingOf(getCost);
/** The ceilings if every core were as fast beside the others as alone. */
const idealPutCeiling = ceilingOf(putCost, cores);
const idealGetCeiling = ceilingOf(getCost, cores);
const formula = (name: string, costs: Costs) => {
  const terms = (part: Record<string, number>) =>
    Object.entries(part)
      .map(([what, cost]) => `${(cost * 1e9).toFixed(2)} ns [${what}]`)
      .join(" + ");
  const { cpu, disk } = bounds(costs);
  return (
    `${name} ceiling = min(cores' speedup / Σ(CPU-seconds per user byte), 1 / Σ(disk-seconds per user byte))\n` +
    `      = min(${speedup.toFixed(2)} [${cores} cores] / (${terms(costs.cpu)}) = ${cpu.toFixed(0)} MB/s,\n` +
    `            1 / (${terms(costs.disk)}) = ${disk.toFixed(0)} MB/s)\n` +
    `      = ${Math.min(cpu, disk).toFixed(0)} MB/s`
  );
};
log(`\n${formula("put", putCost)}`);
log(formula("get", getCost));

const main = e2e.find((r) => r.bytes === mainSize)!;
const putMbps = medianMbps(mainSize, main.put);
const getMbps = medianMbps(mainSize, main.get);
const putCpu = medianCpuPerGiB(mainSize, main.put);
const getCpu = medianCpuPerGiB(mainSize, main.get);
// What a command costs whatever its size (a 1-byte file), and what that leaves the main
// size: the speed of the rest of the run (its streaming part), and the best a run with
// that fixed cost could do if the rest ran at the ceiling.
const fixedPut = median(fixed.put.map((run) => run.seconds));
const fixedGet = median(fixed.get.map((run) => run.seconds));
const splitRun = (runs: SizeResult["put"], fixedSeconds: number, ceiling: number) => ({
  fixedSeconds,
  ceiling,
  streaming: mainSize / (median(runs.map((run) => run.seconds)) - fixedSeconds) / 1e6,
  attainable: mainSize / (fixedSeconds + mainSize / (ceiling * 1e6)) / 1e6,
});
const putSplit = splitRun(main.put, fixedPut, putCeiling);
const getSplit = splitRun(main.get, fixedGet, getCeiling);
// What the run's own CPU cost allows: its CPU-seconds (client, nodes and chain) spread
// over every core with none idle, next to what the ceiling's stages add up to. And the
// same with the command's start as a 1-byte run goes through it (its seconds, in which
// the machine does that run's CPU work and idles otherwise: chain and node round trips),
// the rest of the cost then spread over every core.
const spentOf = (
  cpu: ReturnType<typeof medianCpuPerGiB>,
  costs: Costs,
  start: SizeResult["put"],
  startSeconds: number,
) => {
  const startCpu = median(start.map((run) => run.cpu.client + run.cpu.network));
  const total = ((cpu.client + cpu.network) * mainSize) / GiB;
  return {
    ...cpu,
    model: sum(costs.cpu) * GiB,
    bound: (cores * GiB) / (cpu.client + cpu.network) / 1e6,
    startCpu,
    startSeconds,
    boundAfterStart: mainSize / (startSeconds + Math.max(0, total - startCpu) / cores) / 1e6,
  };
};
const putSpent = spentOf(putCpu, putCost, fixed.put, fixedPut);
const getSpent = spentOf(getCpu, getCost, fixed.get, fixedGet);
const degradedMbps = main.degradedGet ? medianMbps(mainSize, main.degradedGet) : Number.NaN;
const healthyMbps = main.healthyGet ? medianMbps(mainSize, main.healthyGet) : Number.NaN;
// The j-th degraded and the j-th healthy get ran side by side in their turns: the median of
// their ratios, which a drift of the host from pair to pair does not move as it moves the
// ratio of the two sets' medians.
const degradedRatio =
  main.degradedGet && main.healthyGet
    ? median(main.degradedGet.map((run, j) => main.healthyGet![j]!.seconds / run.seconds))
    : Number.NaN;

let peer:
  | { version: string; add: number; cat: number; addCpuPerGiB: number; catCpuPerGiB: number }
  | undefined;
if (!flags["skip-peer"]) {
  log("\npeer: Helia (IPFS), same file, filesystem blockstore:");
  const result = await measurePeer(mainSize, runs, log);
  peer = {
    version: result.version,
    add: peerMbps(mainSize, result.add),
    cat: peerMbps(mainSize, result.cat),
    addCpuPerGiB: medianPerGiB(mainSize, result.addCpu),
    catCpuPerGiB: medianPerGiB(mainSize, result.catCpu),
  };
}

log("\nchain cost:");
const gas = await measureChainCost();
for (const row of gas.rows)
  log(`  ${row.call.padEnd(36)} ${String(row.gas).padStart(8)} gas  ${row.who}`);
log(
  `  registerFile ≈ ${gas.perFile.toFixed(0)} gas per file + ${gas.perShard.toFixed(0)} gas per shard`,
);

// ---- results ----
const peakRss = (r: SizeResult) => ({
  put: Math.max(...r.put.map((run) => run.maxRssMiB)),
  get: Math.max(...r.get.map((run) => run.maxRssMiB)),
});
const rsEncode = stages.find((s) => s.name === "Reed-Solomon encode 4+2")!.mbps;
const allRss = e2e.flatMap((r) => [peakRss(r).put, peakRss(r).get]);
/** A target, and for one set against the peer, the speed it asks for next to the ceiling. */
interface Target {
  target: string;
  value: number;
  goal: number;
  text: string;
  /**
   * For a target against the peer: the speed it asks for, next to the ceiling, the best a
   * run with this run's fixed cost could make, and what the run's own CPU cost allows.
   */
  reach?: {
    needed: number;
    /** The run's own speed (MB/s). */
    measured: number;
    of: string;
    split: ReturnType<typeof splitRun>;
    spent: ReturnType<typeof spentOf>;
  };
  /** For a target against a ceiling: both bounds, to tell when a run beat its ceiling. */
  bounds?: { of: string; measured: number; cpu: number; disk: number };
  /** For a target against a ceiling: the run's fixed cost and what it leaves. */
  split?: ReturnType<typeof splitRun>;
  /** For a target against a ceiling: the run's CPU cost and the speed it allows. */
  spent?: ReturnType<typeof spentOf>;
}
/**
 * A run (or its streaming part, the run less a command's fixed cost) faster than its
 * ceiling means a stage ran slower, when it was measured, than the machine did during the
 * run (this host's disk and CPU drift): that ceiling proves nothing.
 */
const fastest = (t: Target) => Math.max(t.bounds?.measured ?? 0, t.split?.streaming ?? 0);
const beyondCeiling = (t: Target) =>
  t.bounds !== undefined && fastest(t) > Math.min(t.bounds.cpu, t.bounds.disk);
const met = (t: Target) => Number.isFinite(t.value) && t.value >= t.goal && !beyondCeiling(t);
/**
 * Why a target against the peer is missed: how what it asks for stands to the bounds. A
 * bound the run itself beat (its ceiling's stages ran slow when measured) proves nothing.
 */
function peerReach({ needed, measured, of, split, spent }: NonNullable<Target["reach"]>): string {
  const asks = `it asks for ${fmt(needed)} MB/s, ${fmt(needed / split.ceiling, 2)} of the ${of} ceiling (${fmt(split.ceiling)} MB/s)`;
  const trusted = measured <= split.attainable;
  if (trusted && needed > split.ceiling)
    return `out of reach: ${asks}, more than this machine allows a ${of}.`;
  const fixedCost = `with a 1-byte ${of}'s ${fmt(split.fixedSeconds, 2)} s, a ${sizeName(mainSize)} ${of} streaming at exactly the ceiling would make ${fmt(split.attainable)} MB/s`;
  if (trusted && needed > split.attainable)
    return `out of reach with this run's fixed cost: ${asks}; ${fixedCost}.`;
  return `missed: ${asks}; ${fixedCost}, and the ${of}'s own CPU cost (${fmt(spent.client + spent.network, 1)} CPU-seconds per GiB) allows at most ${fmt(spent.bound)} MB/s with no core ever idle. bench/README.md gives the profile and the reasons.`;
}
/**
 * Why a target against a ceiling is missed: the fixed cost and the streaming part next to
 * the ceiling, and what the run's own CPU cost allows, with no core idle and with the
 * command's start as a 1-byte run goes through it.
 */
/** What a run's streaming part must make for the whole run to reach `goal` × its ceiling. */
function neededStreaming(goal: number, split: ReturnType<typeof splitRun>): number {
  return mainSize / (mainSize / (goal * split.ceiling * 1e6) - split.fixedSeconds) / 1e6;
}

function ceilingMiss(t: Target, split: ReturnType<typeof splitRun>): string {
  const of = t.bounds?.of ?? "";
  const size = sizeName(mainSize);
  const ofCeiling = (speed: number) => `${fmt(speed)} MB/s, ${fmt(speed / split.ceiling, 2)} of`;
  const lines = [
    `missed${split.attainable / split.ceiling < t.goal ? ", and out of reach with this run's fixed cost" : ""}.`,
    `A ${of} of a 1-byte file takes ${fmt(split.fixedSeconds, 2)} s (Node's start, the chain calls, the nodes' round trips); with that, a ${size} ${of} streaming at the ceiling would make ${ofCeiling(split.attainable)} it.`,
    `The streaming part of the ${size} ${of} (its time less the 1-byte one's) ran at ${ofCeiling(split.streaming)} the ceiling${
      split.attainable / split.ceiling < t.goal
        ? "."
        : `; to meet the target with this fixed cost it would have to run at ${ofCeiling(neededStreaming(t.goal, split))} the ceiling.`
    }`,
  ];
  const spent = t.spent;
  if (spent) {
    const afterStart = spent.boundAfterStart / split.ceiling;
    lines.push(
      `The ${size} ${of} cost the machine ${fmt(spent.client + spent.network, 1)} CPU-seconds per GiB (the client ${fmt(spent.client, 1)}, the nodes and the chain ${fmt(spent.network, 1)}), where the ceiling's stages add up to ${fmt(spent.model, 1)}: spread over ${cores} cores with none ever idle, that cost allows at most ${ofCeiling(spent.bound)} the ceiling; with the ${of}'s start as a 1-byte ${of} goes through it (${fmt(spent.startSeconds, 2)} s, in which the machine works ${fmt(spent.startCpu, 2)} of its ${fmt(cores * spent.startSeconds, 2)} CPU-seconds) and the rest of that cost after it, at most ${ofCeiling(spent.boundAfterStart)} the ceiling${afterStart < t.goal ? `: at this CPU cost the target is out of reach unless the ${of}'s streaming overlaps its start` : ""}.`,
    );
  }
  lines.push("bench/README.md gives the profile and the reasons.");
  return lines.join(" ");
}
const targets: Target[] = [
  {
    target: "put ≥ 60 % of the put ceiling",
    value: putMbps / putCeiling,
    goal: 0.6,
    text: `${putMbps.toFixed(0)} / ${putCeiling.toFixed(0)} MB/s`,
    bounds: { of: "put", measured: putMbps, ...bounds(putCost) },
    split: putSplit,
    spent: putSpent,
  },
  {
    target: "get ≥ 70 % of the get ceiling",
    value: getMbps / getCeiling,
    goal: 0.7,
    text: `${getMbps.toFixed(0)} / ${getCeiling.toFixed(0)} MB/s`,
    bounds: { of: "get", measured: getMbps, ...bounds(getCost) },
    split: getSplit,
    spent: getSpent,
  },
  {
    target: "get with 2 of 6 nodes down ≥ 90 % of healthy get",
    value: degradedRatio,
    goal: 0.9,
    text: `${degradedRatio.toFixed(2)}, the median of ${main.degradedGet?.length ?? 0} side-by-side pairs (the sets' medians ${degradedMbps.toFixed(0)} / ${healthyMbps.toFixed(0)} MB/s)`,
  },
  ...(peer
    ? [
        {
          target: "put ≥ 1.5 × Helia add",
          value: putMbps / peer.add,
          goal: 1.5,
          text: `${putMbps.toFixed(0)} / ${peer.add.toFixed(0)} MB/s`,
          reach: {
            needed: 1.5 * peer.add,
            measured: putMbps,
            of: "put",
            split: putSplit,
            spent: putSpent,
          },
        },
        {
          target: "get ≥ 3 × Helia cat",
          value: getMbps / peer.cat,
          goal: 3,
          text: `${getMbps.toFixed(0)} / ${peer.cat.toFixed(0)} MB/s`,
          reach: {
            needed: 3 * peer.cat,
            measured: getMbps,
            of: "get",
            split: getSplit,
            spent: getSpent,
          },
        },
      ]
    : []),
  {
    target: "Reed-Solomon encode ≥ 2 GB/s per core",
    value: rsEncode / 2000,
    goal: 1,
    text: `${(rsEncode / 1000).toFixed(2)} GB/s`,
  },
  {
    target: "peak RSS ≤ 256 MiB at every size",
    value: 256 / Math.max(...allRss),
    goal: 1,
    text: `max ${Math.max(...allRss).toFixed(0)} MiB`,
  },
  {
    target: "node event-loop delay p99 < 50 ms under 64 uploads",
    value: 50 / load.p99Ms,
    goal: 1,
    text: `${load.p99Ms.toFixed(1)} ms`,
  },
];

type History = {
  date: string;
  label: string;
  machine: string;
  putMbps: number;
  getMbps: number;
  degradedMbps: number;
  maxRssMiB: number;
  quick: boolean;
};
let history: History[] = [];
try {
  history =
    (JSON.parse(await readFile(here("results.json"), "utf8")) as { history?: History[] }).history ??
    [];
} catch {
  history = [];
}
history.push({
  date,
  label: flags.label ?? "",
  machine,
  putMbps,
  getMbps,
  degradedMbps,
  maxRssMiB: Math.max(...allRss),
  quick,
});

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const sizeName = (bytes: number) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);
/** The median MB/s of `runs` of a `bytes` file, then each run's, as the host's spread shows in them. */
const withRuns = (bytes: number, runs: CliRun[]) =>
  runs.length < 2
    ? fmt(medianMbps(bytes, runs))
    : `${fmt(medianMbps(bytes, runs))} (${runs.map((run) => fmt(mbps(bytes, run.seconds))).join(", ")})`;
const rows = [
  [
    `put ${sizeName(mainSize)}`,
    `${fmt(putMbps)} MB/s`,
    `ceiling ${fmt(putCeiling)} MB/s`,
    fmt(putMbps / putCeiling, 2),
  ],
  [
    `get ${sizeName(mainSize)}`,
    `${fmt(getMbps)} MB/s`,
    `ceiling ${fmt(getCeiling)} MB/s`,
    fmt(getMbps / getCeiling, 2),
  ],
  ...(
    [
      ["put", putSplit],
      ["get", getSplit],
    ] as const
  ).flatMap(([of, split]) => [
    [`${of} of a 1-byte file (a command's fixed cost)`, `${fmt(split.fixedSeconds, 2)} s`, "", ""],
    [
      `${of} ${sizeName(mainSize)}, less that fixed cost (its streaming part)`,
      `${fmt(split.streaming)} MB/s`,
      `ceiling ${fmt(split.ceiling)} MB/s`,
      fmt(split.streaming / split.ceiling, 2),
    ],
  ]),
  [
    "get, 2 of 6 nodes down",
    `${withRuns(mainSize, main.degradedGet ?? [])} MB/s`,
    `healthy gets of the same file, in turns with those: ${withRuns(mainSize, main.healthyGet ?? [])} MB/s`,
    `${fmt(degradedRatio, 2)} (run by run)`,
  ],
  ...(peer
    ? [
        [
          "put vs Helia add",
          `${fmt(putMbps)} MB/s`,
          `Helia ${peer.version} add ${fmt(peer.add)} MB/s`,
          fmt(putMbps / peer.add, 2),
        ],
        [
          "get vs Helia cat",
          `${fmt(getMbps)} MB/s`,
          `Helia ${peer.version} cat ${fmt(peer.cat)} MB/s`,
          fmt(getMbps / peer.cat, 2),
        ],
        [
          "CPU per GiB, put (client + nodes and chain)",
          `${fmt(putCpu.client + putCpu.network, 1)} s (${fmt(putCpu.client, 1)} + ${fmt(putCpu.network, 1)})`,
          `Helia add ${fmt(peer.addCpuPerGiB, 1)} s`,
          fmt((putCpu.client + putCpu.network) / peer.addCpuPerGiB, 2),
        ],
        [
          "CPU per GiB, get (client + nodes and chain)",
          `${fmt(getCpu.client + getCpu.network, 1)} s (${fmt(getCpu.client, 1)} + ${fmt(getCpu.network, 1)})`,
          `Helia cat ${fmt(peer.catCpuPerGiB, 1)} s`,
          fmt((getCpu.client + getCpu.network) / peer.catCpuPerGiB, 2),
        ],
      ]
    : []),
  ...e2e.flatMap((r) => [
    [
      `peak RSS, put ${sizeName(r.bytes)}`,
      `${fmt(peakRss(r).put)} MiB`,
      "256 MiB",
      fmt(peakRss(r).put / 256, 2),
    ],
    [
      `peak RSS, get ${sizeName(r.bytes)}`,
      `${fmt(peakRss(r).get)} MiB`,
      "256 MiB",
      fmt(peakRss(r).get / 256, 2),
    ],
  ]),
  [
    "node event-loop delay p99, 64 uploads (median run)",
    `${fmt(load.p99Ms, 1)} ms`,
    "50 ms",
    fmt(load.p99Ms / 50, 2),
  ],
];
const table = (header: string[], body: string[][]) =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...body.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");

const markdown = `# dstore benchmarks

Recorded by \`npm run bench\`${quick ? " --quick" : ""} on ${date}.
Machine: ${machine}. Each figure is the median of ${runs} run(s); files are seeded
pseudo-random bytes (AES-CTR of a fixed seed), every download is checked byte for byte.
End-to-end runs drive the real CLI against a 6-node devnet (4 + 2) on this one machine, so
the client, the six nodes and the chain share its ${cores} cores. Throughput is MB/s
(10^6 bytes) of user data over the whole CLI run (process start, chain calls included).

![put and get throughput against file size](throughput.svg)

## Results

${table(
  ["metric", "value", "ceiling or peer", "ratio", "date", "machine"],
  rows.map((r) => [...r, date, `${cores} cores`]),
)}

## Targets

${table(
  ["target", "measured", "ratio to goal", "met"],
  targets.map((t) => [
    t.target,
    t.text,
    fmt(t.value / t.goal, 2),
    beyondCeiling(t) ? "unclear" : met(t) ? "yes" : "no",
  ]),
)}
${targets
  .filter((t) => !met(t))
  .map((t) => {
    if (t.bounds && beyondCeiling(t)) {
      const { of, measured, cpu, disk } = t.bounds;
      const [bound, other, otherName] = cpu < disk ? ["CPU", disk, "disk"] : ["disk", cpu, "CPU"];
      const part = measured < fastest(t) ? `${of}'s streaming part` : of;
      return `\n- ${t.target}: unclear; the ${part} ran faster than its ceiling (${fmt(fastest(t))} vs ${fmt(Math.min(cpu, disk))} MB/s), whose ${bound} bound came from stages that ran slower when measured than the machine did during the ${of}. Against the ${otherName} bound alone (${fmt(other)} MB/s) the ${of} (${fmt(measured)} MB/s) is ${fmt(measured / other, 2)} of it.`;
    }
    if (t.reach) return `\n- ${t.target}: ${peerReach(t.reach)}`;
    if (t.split) return `\n- ${t.target}: ${ceilingMiss(t, t.split)}`;
    return `\n- ${t.target}: missed; bench/README.md gives the profile and the reasons.`;
  })
  .join("")}

## Stages, measured alone (one thread each, but the disk's)

Measured before and after the end-to-end runs (the host's speed drifts); the MB/s of each
set, and the two merged (mean seconds per byte), from which the ceiling below is made.

${table(
  ["stage", "MB/s", "before / after", "CPU-s per GiB", "how"],
  stages.map((s) => [
    s.name,
    fmt(s.mbps),
    s.sets ? s.sets.map((set) => fmt(set)).join(" / ") : "",
    fmt((s.cpuPerByte ?? 1 / (s.mbps * 1e6)) * GiB, 2),
    s.note,
  ]),
)}

## Pipeline ceiling

The ceiling is what this machine could do if it did nothing but the work the data path
needs, per byte of user data, from the stages above (with the 4 + 2 stretch of 1.5 on
every per-shard stage). The CPU work of the stages is summed and spread over the
${cores} cores at the speedup they showed together: ${fmt(speedup, 2)} times one core (Merkle
roots, the largest stage, in one worker per core at once against one worker alone; a
perfect ${cores}× would make the ceilings ${fmt(idealPutCeiling)} MB/s for a put, the put
${fmt(putMbps / idealPutCeiling, 2)} of it, and ${fmt(idealGetCeiling)} for a get). The disk's work (direct I/O; a get's with the fastest of its queues) is summed on its
own, since every node and the client share one device (a get's reads and writes, which
the device may serve at once, are measured together); the ceiling is the lower bound.
It counts each stage once, as a put and a get do each (a put computes each shard's root
while it sends the shard, and signs the root to its node after the last byte). A put
reads its input from the page cache (the file was just written, as a user's often is):
CPU work, no disk work.

    ${formula("put", putCost).replaceAll("\n", "\n    ")}

    ${formula("get", getCost).replaceAll("\n", "\n    ")}

Through the page cache, 1 GiB of new data costs this machine ${fmt((stage("disk write + fsync, page cache, new data").cpuPerByte ?? 0) * GiB, 2)} CPU-seconds
to write, against ${fmt((stage("disk write, direct").cpuPerByte ?? 0) * GiB, 2)} with direct I/O (see bench/README.md).

## Every size

${table(
  ["file", "put MB/s (each run)", "get MB/s (each run)", "put peak RSS", "get peak RSS"],
  e2e.map((r) => [
    sizeName(r.bytes),
    withRuns(r.bytes, r.put),
    withRuns(r.bytes, r.get),
    `${fmt(peakRss(r).put)} MiB`,
    `${fmt(peakRss(r).get)} MiB`,
  ]),
)}

## Chain cost

${table(
  ["call", "who", "gas", "note"],
  gas.rows.map((r) => [r.call, r.who, String(r.gas), r.note]),
)}

registerFile ≈ ${fmt(gas.perFile)} gas per file + ${fmt(gas.perShard)} gas per shard (least squares over
3, 6, 12 and 24 shards); it does not grow with the file's size.

## History

${table(
  ["date", "run", "put MB/s", "get MB/s", "degraded get MB/s", "max RSS MiB", "machine"],
  history.map((h) => [
    h.date,
    `${h.label}${h.quick ? " (quick)" : ""}`,
    fmt(h.putMbps),
    fmt(h.getMbps),
    fmt(h.degradedMbps),
    fmt(h.maxRssMiB),
    h.machine,
  ]),
)}
`;

const chart = throughputChart(
  "dstore put and get, 6-node devnet (4+2), one machine",
  [
    {
      label: "put",
      color: "#1f77b4",
      points: e2e.map((r) => ({ bytes: r.bytes, mbps: medianMbps(r.bytes, r.put) })),
    },
    {
      label: "get",
      color: "#d62728",
      points: e2e.map((r) => ({ bytes: r.bytes, mbps: medianMbps(r.bytes, r.get) })),
    },
  ],
  [
    { label: `put ceiling ${fmt(putCeiling)}`, mbps: putCeiling, color: "#9ecae1" },
    { label: `get ceiling ${fmt(getCeiling)}`, mbps: getCeiling, color: "#fcae91" },
    ...(peer
      ? [
          { label: `Helia add ${fmt(peer.add)}`, mbps: peer.add, color: "#2ca02c" },
          { label: `Helia cat ${fmt(peer.cat)}`, mbps: peer.cat, color: "#9467bd" },
        ]
      : []),
  ],
);

await writeFile(here("results.md"), markdown);
await writeFile(here("throughput.svg"), chart);
await writeFile(
  here("results.json"),
  `${JSON.stringify({ date, machine, quick, stages, speedup, putCeiling, getCeiling, idealPutCeiling, idealGetCeiling, load, fixed, e2e, peer, gas, targets, history }, null, 2)}\n`,
);
log(
  `\nwrote bench/results.md, bench/results.json, bench/throughput.svg (median put ${fmt(putMbps)} MB/s, get ${fmt(getMbps)} MB/s)`,
);
