// Runs the dstore CLI in this process and, on exit, writes its resource usage (peak RSS
// of the whole process, worker threads included) to DSTORE_BENCH_USAGE_FILE.
// Usage: node bench/measure.js <args for dstore...>
// Plain JavaScript: a TypeScript wrapper would make every measured run start Node's type
// stripper (~0.1 s), which a user's `dstore` command does not.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const out = process.env.DSTORE_BENCH_USAGE_FILE;
const started = performance.now();
process.on("exit", () => {
  if (out)
    writeFileSync(
      out,
      JSON.stringify({ ...process.resourceUsage(), wallMs: performance.now() - started }),
    );
});
const cli = fileURLToPath(new URL("../client/dstore.js", import.meta.url));
process.argv.splice(1, 1, cli);
await import(cli);
