import { randomBytes } from "node:crypto";
import { constants, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { Socket } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Worker } from "node:worker_threads";
import { SegmentCipher } from "../client/crypto/segment-cipher.ts";
import {
  alignedBlocks,
  LARGE_ALIGNED_BLOCK_SIZE,
  openMaybeDirect,
} from "../client/data-path/aligned-blocks.ts";
import { FileWriter } from "../client/data-path/file-writer.ts";
import { encodeParity, reconstructData } from "../client/erasure/reed-solomon.ts";
import { openShardUpload } from "../client/node-client.ts";
import { defaultSegmentSize } from "../client/protocol/layout.ts";
import { MerkleBuilder, merkleRoot } from "../client/protocol/merkle.ts";
import { type FileId, shardIdOf } from "../client/protocol/shard-id.ts";
import { fetchShardBody, type ShardBody } from "../client/shard-body.ts";
import { forEachChunk } from "../node-service/for-each-chunk.ts";
import { type BlockSink, UploadSocket } from "../node-service/upload-socket.ts";
import { type CpuRuns, mbps, median, timeCpuRuns, timeRuns } from "./data.ts";
import { startBenchNode } from "./node-fixture.ts";

/** One stage's single-core throughput. */
export interface StageResult {
  name: string;
  /** MB/s (10^6 bytes) of the stage's own input. */
  mbps: number;
  /** With {@link mergeStages}: the MB/s of each set of runs merged. */
  sets?: number[];
  /**
   * For a stage bound by a device rather than the CPU (the disk): CPU-seconds it spent
   * per byte, every thread of the process counted.
   */
  cpuPerByte?: number;
  note: string;
}

/**
 * Each stage over two sets of runs: the mean of their seconds per byte (and of their
 * CPU-seconds per byte), as if each set had done half of the bytes.
 */
export function mergeStages(first: StageResult[], second: StageResult[]): StageResult[] {
  return first.map((one) => {
    const other = second.find((stage) => stage.name === one.name);
    if (!other) return one;
    const cpu =
      one.cpuPerByte !== undefined && other.cpuPerByte !== undefined
        ? { cpuPerByte: (one.cpuPerByte + other.cpuPerByte) / 2 }
        : {};
    return {
      ...one,
      mbps: 2 / (1 / one.mbps + 1 / other.mbps),
      sets: [one.mbps, other.mbps],
      ...cpu,
    };
  });
}

const MiB = 2 ** 20;

/**
 * How a disk stage keeps the device busy: the files it reads at once (1 GiB between them),
 * the blocks in flight per file and for the writer, and their size.
 */
interface QueueShape {
  files: number;
  depth: number;
  block: number;
}

/**
 * The disk stages' usual queue: 8 blocks in flight of a node's large block, which it
 * uses while it has few transfers (as in every end-to-end run here).
 */
const DEVICE_QUEUE: QueueShape = { files: 1, depth: 8, block: LARGE_ALIGNED_BLOCK_SIZE };

/**
 * The queues the read-and-write stage tries, the fastest counting: a device serves a mixed
 * load best at a queue of its own, and the ceiling is the best it does. Each reads k = 4
 * files of 256 MiB at once, as a get's k nodes each stream their shard: one file read
 * alone with one 4 MiB block in flight ran up to ~50 % faster on this VM's disk (750 and
 * 948 MB/s each way, before and after the end-to-end runs, against 537 and 638 read as four
 * files with 2 blocks of 2 MiB each), but a get cannot make its k nodes' shards one
 * stream, and on the devnet no node read size or depth made a get faster (1 GiB, 8 rounds
 * in turns: 2 MiB blocks 2 at a time 1.61 s, 1 at a time 1.59, 4 MiB 1 at a time 1.69, 2
 * at a time 1.76).
 */
const MIXED_QUEUES: QueueShape[] = [
  { files: 4, depth: 2, block: LARGE_ALIGNED_BLOCK_SIZE },
  { files: 4, depth: 1, block: LARGE_ALIGNED_BLOCK_SIZE },
  { files: 4, depth: 1, block: 4 * MiB },
];

const describeQueue = ({ files, depth, block }: QueueShape) =>
  `${files === 1 ? "" : `${files} files, `}${depth} block${depth === 1 ? "" : "s"} of ${block / MiB} MiB${files === 1 ? "" : " each"}`;

/** Read a whole file with direct I/O, `queue.depth` blocks in flight. */
async function readDirect(path: string, queue = DEVICE_QUEUE): Promise<void> {
  const { handle } = await openMaybeDirect(path, constants.O_RDONLY, true);
  const blocks = Array.from({ length: queue.depth }, () => alignedBlocks.take(queue.block));
  try {
    const { size } = await handle.stat();
    let next = 0;
    await Promise.all(
      blocks.map(async (block) => {
        for (let at = next; at < size; at = next) {
          next += queue.block;
          await handle.read(block, 0, queue.block, at);
        }
      }),
    );
  } finally {
    for (const block of blocks) alignedBlocks.give(block);
    await handle.close();
  }
}

/** Every stage of the data path, measured alone on this machine (median of `runs`). */
export async function measureStages(
  runs: number,
  log: (line: string) => void,
): Promise<StageResult[]> {
  const results: StageResult[] = [];
  const record = (name: string, bytes: number, times: number[], note: string) => {
    const value = mbps(bytes, median(times));
    results.push({ name, mbps: value, note });
    log(`  ${name.padEnd(40)} ${value.toFixed(0).padStart(6)} MB/s  (${note})`);
  };
  const recordDevice = (name: string, bytes: number, times: CpuRuns, note: string) => {
    const value = mbps(bytes, median(times.wall));
    const cpuPerByte = median(times.cpu) / bytes;
    results.push({ name, mbps: value, cpuPerByte, note });
    log(
      `  ${name.padEnd(40)} ${value.toFixed(0).padStart(6)} MB/s  (${note}; ${(cpuPerByte * 2 ** 30).toFixed(2)} CPU-s per GiB)`,
    );
  };

  const k = 4;
  const m = 2;
  const segment = defaultSegmentSize(k);
  const segments = 64;
  const plain = randomBytes(segment);
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));
  const sealed = cipher.seal(plain, 0, false);
  // Into buffers made once, as the data path seals and opens in its ring's slots: a
  // fresh 4 MiB output per segment would time this machine's page faults as well.
  const sealedOut = Buffer.allocUnsafe(sealed.length);
  const plainOut = Buffer.allocUnsafe(segment);
  record(
    "AES-256-GCM seal",
    segment * segments,
    await timeRuns(
      runs,
      async () => {
        for (let i = 0; i < segments; i++) cipher.sealInto(plain, i, false, sealedOut);
      },
      true,
    ),
    `${segments} segments of ${segment} B, one thread`,
  );
  record(
    "AES-256-GCM open",
    segment * segments,
    await timeRuns(
      runs,
      async () => {
        for (let i = 0; i < segments; i++) cipher.openInto(sealed, 0, false, plainOut);
      },
      true,
    ),
    "same segments",
  );

  const piece = MiB;
  const data = randomBytes(k * piece);
  const parity = Buffer.alloc(m * piece);
  record(
    "Reed-Solomon encode 4+2",
    k * piece * segments,
    await timeRuns(
      runs,
      async () => {
        for (let i = 0; i < segments; i++) await encodeParity(k, m, data, parity);
      },
      true,
    ),
    "1 MiB pieces, data bytes per second",
  );
  const present = [false, false, true, true, true, true];
  record(
    "Reed-Solomon rebuild, 2 missing",
    k * piece * segments,
    await timeRuns(
      runs,
      async () => {
        // One buffer for every segment, as a get rebuilds in its ring slot: a fresh 4 MiB
        // copy per segment measured this machine's page faults, not the coder.
        const damaged = Buffer.from(data);
        for (let i = 0; i < segments; i++) {
          damaged.fill(0, 0, 2 * piece);
          await reconstructData(k, m, damaged, parity, present);
        }
      },
      true,
    ),
    "2 data pieces rebuilt from 2 data + 2 parity",
  );

  const shard = randomBytes(256 * MiB);
  record(
    "SHA-256 Merkle, streamed",
    shard.length,
    await timeRuns(
      runs,
      async () => {
        const builder = new MerkleBuilder();
        for (let at = 0; at < shard.length; at += 64 * 1024)
          builder.update(shard.subarray(at, at + 64 * 1024));
        builder.digest();
      },
      true,
    ),
    "4 KiB leaves, 64 KiB chunks (as a node hashes)",
  );
  record(
    "SHA-256 Merkle, 1 MiB subtrees",
    shard.length,
    await timeRuns(
      runs,
      async () => {
        for (let at = 0; at < shard.length; at += MiB) merkleRoot(shard.subarray(at, at + MiB));
      },
      true,
    ),
    "per aligned piece (as the client's workers hash)",
  );
  const speedup = await parallelSpeedup(runs);
  record(
    "SHA-256 Merkle, one worker",
    speedup.size,
    speedup.alone,
    "1 MiB pieces in a worker thread, the other cores idle",
  );
  recordDevice(
    "SHA-256 Merkle, every core at once",
    speedup.size * speedup.workers,
    speedup.together,
    `${speedup.workers} such workers at once, each over its own ${speedup.size / MiB} MiB; MB/s of them all`,
  );

  // The disk, as the data path uses it: written and read with direct I/O (as a node keeps
  // and serves shards and a get writes its output), a queue deep enough to keep the
  // device busy, each run a new 1 GiB file. These stages are bounded by the device, not
  // the CPU: their CPU-seconds are recorded apart. Through the page cache, for reference:
  // new data (pages nothing used lately, which on this VM each cost a fault to the host)
  // and a rewrite into pages just freed.
  const dir = await mkdtemp(join(tmpdir(), "dstore-bench-disk-"));
  try {
    const total = 1024 * MiB;
    /** A new file's path in `dir`, also added to `into` when given. */
    const fresh = (run: string, into?: string[]) => {
      const path = join(dir, `${run}-${randomBytes(4).toString("hex")}`);
      into?.push(path);
      return path;
    };
    const buffered: string[] = [];
    /** Write a new file (1 GiB unless told) through the FileWriter, as a node or a get writes. */
    const writeDirect = async (
      run: string,
      durable: boolean,
      into: string[],
      queue = DEVICE_QUEUE,
      bytes = total,
    ) => {
      const path = fresh(run, into);
      const writer = await FileWriter.create(path, {
        // A writer holds at least two blocks, one written while the next fills: the shapes
        // of depth 1 and 2 write alike.
        depth: Math.max(2, queue.depth),
        durable,
        blockSize: queue.block,
      });
      for (let at = 0; at < bytes; at += 4 * MiB) await writer.write(shard.subarray(0, 4 * MiB));
      await writer.finish();
    };
    const direct: string[] = [];
    recordDevice(
      "disk write, direct",
      total,
      await timeCpuRuns(runs, () => writeDirect("direct", true, direct)),
      `1 GiB new file per run through the FileWriter (O_DIRECT, ${describeQueue(DEVICE_QUEUE)}), fsync`,
    );
    for (const path of direct) await rm(path);
    const unflushed: string[] = [];
    recordDevice(
      "disk write, direct, not flushed",
      total,
      await timeCpuRuns(runs, () => writeDirect("unflushed", false, unflushed)),
      "the same without the flushes, as a get writes its output (as cp would)",
    );
    // Each read stage reads files nothing has read yet: reading a 1 GiB file again right
    // after, while writing another, ran ~7 % slower here (4 pairs in turns: 511-528 against
    // 514-576 MB/s), and a get reads shards nothing read since its put wrote them.
    let read = 0;
    recordDevice(
      "disk read, direct",
      total,
      await timeCpuRuns(runs, async () => readDirect(unflushed[read++]!)),
      `the files just written without flushes, read back with O_DIRECT, ${describeQueue(DEVICE_QUEUE)} in flight`,
    );
    for (const path of unflushed) await rm(path);
    // A get's disk work: nodes read shards while the client writes the file. The device
    // may serve both at once, so they are timed together rather than added up: with each
    // queue in turn, each run reading files written with fsync just before (untimed).
    const mixedRuns = MIXED_QUEUES.map((): CpuRuns => ({ wall: [], cpu: [] }));
    for (let run = 0; run < runs; run++) {
      for (const [i, queue] of MIXED_QUEUES.entries()) {
        const files: string[] = [];
        for (let file = 0; file < queue.files; file++)
          await writeDirect("source", true, files, DEVICE_QUEUE, total / queue.files);
        const sources = [...files];
        const once = await timeCpuRuns(1, () =>
          Promise.all([
            ...sources.map((path) => readDirect(path, queue)),
            writeDirect("mixed", false, files, queue),
          ]),
        );
        mixedRuns[i]!.wall.push(...once.wall);
        mixedRuns[i]!.cpu.push(...once.cpu);
        for (const path of files) await rm(path);
      }
    }
    const mixedSpeeds = mixedRuns.map((times) => mbps(total, median(times.wall)));
    const fastest = mixedSpeeds.indexOf(Math.max(...mixedSpeeds));
    const tried = MIXED_QUEUES.map(
      (queue, i) => `${describeQueue(queue)} ${mixedSpeeds[i]!.toFixed(0)}`,
    ).join(", ");
    recordDevice(
      "disk read + write at once, direct",
      total,
      mixedRuns[fastest]!,
      `1 GiB written with fsync, read back (as nodes serve shards) while 1 GiB is written, not flushed (as a get writes its output); MB/s each way, with the fastest queue of (${tried} MB/s)`,
    );
    const writeBuffered = (path: string) =>
      pipeline(
        Readable.from(
          (function* () {
            for (let at = 0; at < total; at += 4 * MiB) yield shard.subarray(0, 4 * MiB);
          })(),
        ),
        createWriteStream(path, { flush: true, highWaterMark: MiB }),
      );
    recordDevice(
      "disk write + fsync, page cache, new data",
      total,
      await timeCpuRuns(runs, () => writeBuffered(fresh("new", buffered))),
      "1 GiB new file per run through the page cache (1 MiB writes, fsync); files kept",
    );
    // A put reads its input through the page cache, a segment at a time into its ring:
    // a file just written (as the bench's puts read theirs, and as the last run above
    // wrote its own) is in memory, and each read is one copy out of the page cache.
    const input = buffered.at(-1)!;
    const segmentBuffer = Buffer.allocUnsafe(segment);
    recordDevice(
      "file read, page cache",
      total,
      await timeCpuRuns(runs, async () => {
        const handle = await open(input, "r");
        try {
          for (let at = 0; at < total; at += segment)
            await handle.read(segmentBuffer, 0, Math.min(segment, total - at), at);
        } finally {
          await handle.close();
        }
      }),
      "a 1 GiB file just written, read back in segments into one buffer (as a put reads its input)",
    );
    await rm(dir, { recursive: true });
    await mkdir(dir);
    recordDevice(
      "disk write + fsync, page cache, rewrite",
      total,
      await timeCpuRuns(runs, async () => {
        const path = fresh("again");
        await writeBuffered(path);
        await rm(path);
      }),
      "the same, each file removed before the next run writes (pages reused)",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // Raw loopback HTTP: a server that only counts or sends bytes.
  const body = shard.subarray(0, 128 * MiB);
  const server = createServer((req, res) => {
    if (req.method === "PUT") {
      // Each chunk freed once taken, as a node takes an upload's: left to the garbage
      // collector, node:http's 64 KiB chunks cost the receiver twice the CPU, and a
      // different amount in every run (new memory is expensive on this VM).
      forEachChunk(req, () => undefined).then(
        () => res.end("ok"),
        () => res.destroy(),
      );
    } else {
      res.setHeader("content-length", body.length);
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const put = () =>
    new Promise<void>((resolve, reject) => {
      const headers = { "content-length": String(body.length) };
      const req = request({ host: "127.0.0.1", port, method: "PUT", headers });
      req.on("error", reject);
      req.on("response", (res) => {
        res.on("data", () => {});
        res.on("end", resolve);
      });
      (async () => {
        for (let at = 0; at < body.length; at += MiB) {
          await new Promise<void>((done) => req.write(body.subarray(at, at + MiB), () => done()));
        }
        req.end();
      })().catch(reject);
    });
  record(
    "loopback HTTP PUT (raw)",
    body.length,
    await timeRuns(runs, put, true),
    "node:http both ends, body discarded (each chunk freed once taken, as a node does)",
  );
  record(
    "loopback HTTP GET (raw)",
    body.length,
    await timeRuns(
      runs,
      async () => drain(await fetchShardBody(`http://127.0.0.1:${port}`, "0".repeat(64))),
      true,
    ),
    "node:http sends from memory; read into one reused 1 MiB buffer, as a get reads",
  );
  server.close();
  record(
    "loopback upload (upgraded)",
    body.length,
    await timeRuns(runs, () => upgradedUpload(body), true),
    "HTTP upgrade, then the body read in place into reused 2 MiB blocks, as a node reads a put's shard; body discarded",
  );

  await nodeStages(runs, record);
  return results;
}

/**
 * The cores' speedup on the put's largest stage: Merkle roots of 1 MiB pieces (as a put's
 * codec workers make them) in one worker alone, then in one worker per core at once, each
 * over its own bytes, in turns. The ceiling spreads its CPU work over what this measures
 * rather than over the core count: cores that share a physical core's units or its clock
 * (this VM's two did ~1.9 times one) do less together than each alone.
 */
async function parallelSpeedup(runs: number): Promise<{
  size: number;
  workers: number;
  /** Seconds of one worker alone, each turn. */
  alone: number[];
  /** Each turn with every worker: their mean seconds, and the process's CPU-seconds. */
  together: CpuRuns;
}> {
  const cores = availableParallelism();
  const size = 256 * MiB;
  const workers = Array.from(
    { length: cores },
    () => new Worker(new URL("./hash-worker.ts", import.meta.url), { workerData: size }),
  );
  const failed = new Promise<never>((_, reject) => {
    for (const worker of workers) worker.once("error", reject);
  });
  failed.catch(() => {});
  const answer = (worker: Worker) =>
    Promise.race([new Promise<unknown>((resolve) => worker.once("message", resolve)), failed]);
  /** Each worker's seconds, the workers started together. */
  const run = (some: Worker[]) =>
    Promise.all(
      some.map((worker) => {
        const answered = answer(worker);
        worker.postMessage(null);
        return answered as Promise<number>;
      }),
    );
  try {
    await Promise.all(workers.map(answer));
    await run(workers);
    const alone: number[] = [];
    const together: CpuRuns = { wall: [], cpu: [] };
    // More turns than the other stages: the speedup is a ratio of two noisy figures.
    for (let i = 0; i < Math.max(runs, 5); i++) {
      alone.push(...(await run(workers.slice(0, 1))));
      const cpu = process.cpuUsage();
      const seconds = await run(workers);
      const used = process.cpuUsage(cpu);
      together.wall.push(seconds.reduce((a, b) => a + b, 0) / seconds.length);
      together.cpu.push((used.user + used.system) / 1e6);
    }
    return { size, workers: cores, alone, together };
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * `body` sent as a put sends a shard (1 MiB writes, `openShardUpload` upgraded) to a
 * server that reads it as a node does (an {@link UploadSocket}) into 2 MiB blocks it
 * reuses, as a node's FileWriter does, and drops.
 */
async function upgradedUpload(body: Buffer): Promise<void> {
  const block = Buffer.allocUnsafe(2 * MiB);
  let filled = 0;
  const discard: BlockSink = {
    room: () => block.subarray(filled),
    filledRoom: (length) => {
      filled = (filled + length) % block.length;
    },
    push: () => undefined,
  };
  const server = createServer();
  server.on("upgrade", (_req, socket: Socket, head: Buffer) => {
    const upload = new UploadSocket(socket, head);
    upload.accept();
    upload.fill(discard, body.length).then(
      () => upload.answer(201, {}),
      () => upload.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const upload = openShardUpload(`http://127.0.0.1:${port}`, "0".repeat(64), "", body.length, {
      upgrade: true,
    });
    for (let at = 0; at < body.length; at += MiB) {
      await Promise.race([upload.write(body.subarray(at, at + MiB)), upload.failed]);
    }
    await upload.finish();
  } finally {
    server.close();
  }
}

/** Read a body to its end, 1 MiB at a time into one buffer. */
async function drain(body: ShardBody): Promise<void> {
  const into = Buffer.allocUnsafe(MiB);
  for (let left = body.length; left > 0; left -= Math.min(left, MiB)) {
    await body.read(into.subarray(0, Math.min(left, MiB)));
  }
}

/** A real storage node process on a real chain: one shard up and down. */
async function nodeStages(
  runs: number,
  record: (name: string, bytes: number, times: number[], note: string) => void,
): Promise<void> {
  const bench = await startBenchNode();
  try {
    const size = 256 * MiB;
    const shard = randomBytes(size);
    let fileId = "" as FileId;
    const times = await timeRuns(runs, async () => {
      fileId = await bench.upload(shard, MiB);
    });
    record("node PUT (one shard)", size, times, "HTTP in, hash, write, fsync, receipt");
    record(
      "node GET (one shard)",
      size,
      await timeRuns(
        runs,
        async () => {
          await drain(await fetchShardBody(bench.node.url, shardIdOf(fileId, 0)));
        },
        true,
      ),
      "read with O_DIRECT, sent to the client",
    );
  } finally {
    await bench.stop();
  }
}
