#!/usr/bin/env node
// The dstore command. It runs the CLI's JavaScript build (dist/, made by `npm run build`,
// which `npm install` runs) when the build is newer than every source file, and the
// TypeScript sources otherwise, so an edit is never hidden behind an old build. From the
// sources, Node strips the types of each file and resolves every module at each start,
// which costs a command ~0.3 s here (bench/README.md). Plain JavaScript itself, so that
// choosing costs nothing but a few ms of stat calls.
import { existsSync, readdirSync, statSync } from "node:fs";
import module from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(root, "dist", "client", "cli.js");

/** The last change to `path`, or -Infinity if it is not there (a dangling link, say). */
const changed = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -Infinity;

/**
 * Whether the build exists and nothing it is made of changed after it was made: no source
 * file, no installed package (the bundle holds ethers, eciesjs, ...: an `npm update` does
 * not rebuild it), not the build script.
 */
function buildIsCurrent() {
  const made = changed(built);
  const inputs = [
    "package.json",
    "package-lock.json",
    join("node_modules", ".package-lock.json"),
    join("scripts", "build-cli.ts"),
  ];
  if (inputs.some((input) => changed(join(root, input)) > made)) return false;
  for (const folder of ["client", "node-service", "ignition"]) {
    if (!existsSync(join(root, folder))) continue;
    for (const file of readdirSync(join(root, folder), { recursive: true })) {
      if (file.endsWith(".ts") && changed(join(root, folder, file)) > made) return false;
    }
  }
  return made > -Infinity;
}

const cli = buildIsCurrent() ? built : join(root, "client", "cli.ts");
// V8's compiled code for the modules, kept on disk (tagged with their contents and Node's
// version) so the next start skips compiling them. Where it cannot be written, nothing.
module.enableCompileCache?.(
  process.env.NODE_COMPILE_CACHE ?? join(root, "node_modules", ".cache", "dstore-compile"),
);
await import(pathToFileURL(cli).href);
