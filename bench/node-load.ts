import { randomBytes } from "node:crypto";
import { get } from "node:http";
import { startBenchNode } from "./node-fixture.ts";

/** How a node's event loop held up under many concurrent uploads. */
export interface NodeLoadResult {
  uploads: number;
  bytesEach: number;
  seconds: number;
  /** Event-loop delay during the burst, from the node's own /metrics (prom-client). */
  p99Ms: number;
  maxMs: number;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    get(`${url}/metrics`, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(dstore_nodejs_eventloop_lag_\w+) ([\d.e+-]+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** 64 uploads at once into one real node process; its event-loop delay meanwhile. */
export async function measureNodeLoad(uploads: number, bytesEach: number): Promise<NodeLoadResult> {
  const bench = await startBenchNode();
  try {
    const shard = randomBytes(bytesEach);
    await scrape(bench.node.url); // resets the node's event-loop histogram
    const started = performance.now();
    await Promise.all(Array.from({ length: uploads }, () => bench.upload(shard, 256 * 1024)));
    const seconds = (performance.now() - started) / 1000;
    const metrics = await scrape(bench.node.url);
    return {
      uploads,
      bytesEach,
      seconds,
      p99Ms: (metrics.get("dstore_nodejs_eventloop_lag_p99_seconds") ?? Number.NaN) * 1000,
      maxMs: (metrics.get("dstore_nodejs_eventloop_lag_max_seconds") ?? Number.NaN) * 1000,
    };
  } finally {
    await bench.stop();
  }
}
