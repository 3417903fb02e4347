#!/usr/bin/env node
// The dstore command. It runs the CLI's JavaScript build (dist/, made by `npm run build`,
// which `npm install` runs) when the build is as new as every source file, and the
// TypeScript sources otherwise, so an edit is never hidden behind an old build. Node
// strips the sources' types at every start, which costs each command ~0.2 s here
// (bench/README.md: a tiny get took 0.7-0.9 s from the build, 1.0-1.2 s from the sources).
// Plain JavaScript itself, so that choosing costs nothing but a few ms of stat calls.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Whether dist/ holds a build of every source file, made after that file's last change. */
function buildIsCurrent() {
  for (const folder of ["client", "node-service", "ignition"]) {
    if (!existsSync(join(root, folder))) continue;
    for (const file of readdirSync(join(root, folder), { recursive: true })) {
      if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
      const built = statSync(join(root, "dist", folder, file.replace(/\.ts$/, ".js")), {
        throwIfNoEntry: false,
      });
      if (!built || built.mtimeMs < statSync(join(root, folder, file)).mtimeMs) return false;
    }
  }
  return true;
}

const cli = buildIsCurrent()
  ? join(root, "dist", "client", "cli.js")
  : join(root, "client", "cli.ts");
await import(pathToFileURL(cli).href);
