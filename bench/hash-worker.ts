import { randomBytes } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { merkleRoot } from "../client/protocol/merkle.ts";

// A bench worker for the cores' parallel speedup (stages.ts): on each message it roots its
// own bytes 1 MiB at a time, as a put's codec workers root pieces, and answers with the
// seconds that took.

const MiB = 2 ** 20;
const bytes = randomBytes(workerData as number);
const port = parentPort!;
port.on("message", () => {
  const start = performance.now();
  for (let at = 0; at < bytes.length; at += MiB) merkleRoot(bytes.subarray(at, at + MiB));
  port.postMessage((performance.now() - start) / 1000);
});
port.postMessage("ready");
