import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder of dstore's package.json, where artifacts/, ignition/ and the devnet's
 * .dstore/ are: the same whether the code runs from its TypeScript sources or from the
 * JavaScript build in dist/.
 */
export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Whether this code runs from the build in dist/ or from its TypeScript sources. */
const BUILT = import.meta.url.endsWith(".js");

/**
 * The file to start for the project module `path` (from the project's root, without
 * extension) as this code runs: its build in dist/, or its source. For code that starts
 * a module by its path: a worker, a child process.
 */
export function projectModule(path: string): string {
  return BUILT ? join(PROJECT_ROOT, "dist", `${path}.js`) : join(PROJECT_ROOT, `${path}.ts`);
}
