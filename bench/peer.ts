import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { median, writeSeededFile } from "./data.ts";

const run = promisify(execFile);
const PEER_DIR = fileURLToPath(new URL("./.peer/", import.meta.url));
/** The Helia release the targets were set against. */
const HELIA = ["helia@7.1", "@helia/unixfs@8", "blockstore-fs@4"];

/** Helia's add and cat of the same seeded file: seconds of each run. */
export interface PeerResult {
  version: string;
  add: number[];
  cat: number[];
  /** CPU-seconds (every thread) of each add and cat. */
  addCpu: number[];
  catCpu: number[];
}

/** Install Helia into bench/.peer once (from the npm registry), outside the project's deps. */
async function ensureHelia(log: (line: string) => void): Promise<void> {
  if (existsSync(join(PEER_DIR, "node_modules", "helia"))) return;
  log(`  installing ${HELIA.join(" ")} into bench/.peer (once)`);
  await mkdir(PEER_DIR, { recursive: true });
  await run(
    "npm",
    ["install", "--prefix", PEER_DIR, "--no-save", "--no-audit", "--no-fund", ...HELIA],
    {
      maxBuffer: 64 * 2 ** 20,
    },
  );
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest("hex");
}

/** Add and read back the same seeded file with Helia, `runs` times. */
export async function measurePeer(
  bytes: number,
  runs: number,
  log: (line: string) => void,
): Promise<PeerResult> {
  await ensureHelia(log);
  const script = join(PEER_DIR, "run.mjs");
  await copyFile(fileURLToPath(new URL("./peer-helia.mjs", import.meta.url)), script);
  const work = await mkdtemp(join(tmpdir(), "dstore-bench-peer-"));
  const result: PeerResult = {
    version: JSON.parse(
      await readFile(join(PEER_DIR, "node_modules", "helia", "package.json"), "utf8"),
    ).version,
    add: [],
    cat: [],
    addCpu: [],
    catCpu: [],
  };
  try {
    const input = join(work, "input");
    await writeSeededFile(input, bytes, `dstore-bench-${bytes}`);
    const expected = await sha256File(input);
    for (let i = 0; i < runs; i++) {
      const store = join(work, `blocks-${i}`);
      const output = join(work, `output-${i}`);
      const { stdout } = await run(process.execPath, [script, input, store, output], {
        maxBuffer: 2 ** 20,
      });
      const { add, cat, addCpu, catCpu } = JSON.parse(stdout) as Record<
        "add" | "cat" | "addCpu" | "catCpu",
        number
      >;
      if ((await sha256File(output)) !== expected)
        throw new Error("Helia returned different bytes");
      result.add.push(add);
      result.cat.push(cat);
      result.addCpu.push(addCpu);
      result.catCpu.push(catCpu);
      log(
        `  Helia run ${i + 1}: add ${(bytes / add / 1e6).toFixed(0)} MB/s, cat ${(bytes / cat / 1e6).toFixed(0)} MB/s`,
      );
      await rm(store, { recursive: true, force: true });
      await rm(output, { force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return result;
}

/** Median MB/s of some runs over `bytes`. */
export function peerMbps(bytes: number, seconds: number[]): number {
  return bytes / median(seconds) / 1e6;
}
