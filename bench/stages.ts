import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SegmentCipher } from "../client/crypto/segment-cipher.ts";
import { encodeParity, reconstructData } from "../client/erasure/reed-solomon.ts";
import { getShard } from "../client/node-client.ts";
import { defaultSegmentSize } from "../client/protocol/layout.ts";
import { MerkleBuilder, merkleRoot } from "../client/protocol/merkle.ts";
import { type FileId, shardIdOf } from "../client/protocol/shard-id.ts";
import { mbps, median, timeRuns } from "./data.ts";
import { startBenchNode } from "./node-fixture.ts";

/** One stage's single-core throughput. */
export interface StageResult {
  name: string;
  /** MB/s (10^6 bytes) of the stage's own input. */
  mbps: number;
  note: string;
}

const MiB = 2 ** 20;

/** Every stage of the data path, measured alone on this machine (median of `runs`). */
export async function measureStages(
  runs: number,
  log: (line: string) => void,
): Promise<StageResult[]> {
  const results: StageResult[] = [];
  const record = (name: string, bytes: number, times: number[], note: string) => {
    const value = mbps(bytes, median(times));
    results.push({ name, mbps: value, note });
    log(`  ${name.padEnd(34)} ${value.toFixed(0).padStart(6)} MB/s  (${note})`);
  };

  const k = 4;
  const m = 2;
  const segment = defaultSegmentSize(k);
  const segments = 64;
  const plain = randomBytes(segment);
  const cipher = new SegmentCipher(randomBytes(32), randomBytes(32));
  const sealed = cipher.seal(plain, 0, false);
  record(
    "AES-256-GCM seal",
    segment * segments,
    await timeRuns(
      runs,
      async () => {
        for (let i = 0; i < segments; i++) cipher.seal(plain, i, false);
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
        for (let i = 0; i < segments; i++) cipher.open(sealed, 0, false);
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
        for (let i = 0; i < segments; i++) {
          const damaged = Buffer.from(data);
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

  // Disk writes, twice. New data (each run a new file, all kept until the stage ends)
  // lands in page-cache pages nothing has used lately, as every shard a node stores and
  // every file a get writes does; on this VM such pages cost far more than ones just
  // freed, which is what a rewrite (each run's file removed before the next) reuses.
  const dir = await mkdtemp(join(tmpdir(), "dstore-bench-disk-"));
  try {
    const total = 1024 * MiB;
    const writeFile = (path: string) =>
      pipeline(
        Readable.from(
          (function* () {
            for (let at = 0; at < total; at += 4 * MiB) yield shard.subarray(0, 4 * MiB);
          })(),
        ),
        createWriteStream(path, { flush: true, highWaterMark: MiB }),
      );
    const fresh = (run: string) => join(dir, `${run}-${randomBytes(4).toString("hex")}`);
    record(
      "disk write + fsync, new data",
      total,
      await timeRuns(runs, () => writeFile(fresh("new"))),
      "1 GiB new file per run, as the shard store writes (1 MiB buffer, fsync); files kept",
    );
    // A get writes one file; how fast can one file take new data from every core at once?
    const writers = availableParallelism();
    record(
      "disk write + fsync, new data, one file, every core",
      total,
      await timeRuns(runs, async () => {
        const file = await open(fresh("shared"), "wx");
        try {
          await Promise.all(
            Array.from({ length: writers }, async (_, writer) => {
              for (let at = writer * 4 * MiB; at < total; at += writers * 4 * MiB)
                await file.write(shard, 0, 4 * MiB, at);
            }),
          );
          await file.sync();
        } finally {
          await file.close();
        }
      }),
      `1 GiB new file per run, ${writers} writes of 4 MiB blocks to it in flight at once, fsync`,
    );
    await rm(dir, { recursive: true });
    await mkdir(dir);
    record(
      "disk write + fsync, rewrite",
      total,
      await timeRuns(runs, async () => {
        const path = fresh("again");
        await writeFile(path);
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
      req.on("data", () => {});
      req.on("end", () => res.end("ok"));
    } else {
      res.setHeader("content-length", body.length);
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const exchange = (method: string) =>
    new Promise<void>((resolve, reject) => {
      const headers: Record<string, string> =
        method === "PUT" ? { "content-length": String(body.length) } : {};
      const req = request({ host: "127.0.0.1", port, method, headers });
      req.on("error", reject);
      req.on("response", (res) => {
        res.on("data", () => {});
        res.on("end", resolve);
      });
      if (method !== "PUT") {
        req.end();
        return;
      }
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
    await timeRuns(runs, () => exchange("PUT"), true),
    "node:http both ends, body discarded",
  );
  record(
    "loopback HTTP GET (raw)",
    body.length,
    await timeRuns(runs, () => exchange("GET"), true),
    "node:http both ends, sent from memory",
  );
  server.close();

  await nodeStages(runs, record);
  return results;
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
          const { body } = await getShard(bench.node.url, shardIdOf(fileId, 0));
          for await (const _ of body) {
            // drain
          }
        },
        true,
      ),
      "from the page cache to the client",
    );
  } finally {
    await bench.stop();
  }
}
