import { existsSync } from "node:fs";
import { dirname, extname, join } from "node:path";
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

/**
 * The module `path` (relative, without its extension) next to the module at `base` (its
 * `import.meta.url`), as a path: with base's own extension, .ts in the sources and .js
 * in the build, for code that starts a module by its path (a worker, a child process).
 */
export function siblingModule(path: string, base: string): string {
  const from = fileURLToPath(base);
  return fileURLToPath(new URL(`${path}${extname(from)}`, base));
}
