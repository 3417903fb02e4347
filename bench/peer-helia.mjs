// Helia (IPFS in JavaScript) adding and reading a file with a filesystem blockstore: the
// peer dstore is compared with. Copied into bench/.peer (where Helia is installed) and run
// there. Usage: node run.mjs <file> <blockstore dir> <output file>
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { unixfs } from "@helia/unixfs";
import { FsBlockstore } from "blockstore-fs";
import { MemoryDatastore } from "datastore-core";
import { createHelia } from "helia";

const [file, storeDir, outFile] = process.argv.slice(2);
const blockstore = new FsBlockstore(storeDir);
await blockstore.open();
const helia = await createHelia({ blockstore, datastore: new MemoryDatastore(), start: false });
const fs = unixfs(helia);
// CPU-seconds of the whole process (every thread) since `since`.
const cpuSince = (since) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};
let cpu = process.cpuUsage();
let started = performance.now();
const cid = await fs.addByteStream(createReadStream(file, { highWaterMark: 1 << 20 }));
const add = (performance.now() - started) / 1000;
const addCpu = cpuSince(cpu);
cpu = process.cpuUsage();
started = performance.now();
const out = createWriteStream(outFile);
for await (const chunk of fs.cat(cid)) {
  if (!out.write(chunk)) await once(out, "drain");
}
await new Promise((resolve) => out.end(resolve));
const cat = (performance.now() - started) / 1000;
const catCpu = cpuSince(cpu);
process.stdout.write(`${JSON.stringify({ add, cat, addCpu, catCpu, cid: cid.toString() })}\n`);
await helia.stop();
await blockstore.close();
