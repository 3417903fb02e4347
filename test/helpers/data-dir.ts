import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const created = new Set<string>();

/** A fresh empty folder under the system temp dir, removed by {@link removeTempDirs}. */
export async function tempDir(prefix = "dstore-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.add(dir);
  return dir;
}

/** Remove every folder {@link tempDir} made in this test file (call in `afterAll`). */
export async function removeTempDirs(): Promise<void> {
  await Promise.all([...created].map((dir) => rm(dir, { recursive: true, force: true })));
  created.clear();
}

/** Every file under `dir`, as sorted paths relative to it ([] if `dir` does not exist). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** The files a node keeps for stored shard `shardId`, relative to its data dir. */
export function shardFiles(shardId: string): string[] {
  const base = join("shards", shardId.slice(0, 2), shardId);
  return [base, `${base}.json`, `${base}.leaves`];
}
