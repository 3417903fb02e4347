import { randomBytes } from "node:crypto";
import { get } from "node:http";
import { EVENT_LOOP_SAMPLE_MS } from "../node-service/metrics.ts";
import { startBenchNode } from "./node-fixture.ts";

/** How a node's event loop held up under many concurrent uploads. */
export interface NodeLoadResult {
  uploads: number;
  bytesEach: number;
  seconds: number;
  /**
   * Event-loop delay during the burst, from the node's own /metrics (prom-client): how late
   * its samples came, so the sampling interval is taken off what the histogram holds (the
   * time between samples; see EVENT_LOOP_SAMPLE_MS).
   */
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

/**
 * `uploads` uploads at once into a fresh node process, `runs` times (a new chain and node
 * each run); the node's event-loop delay during each burst, and the run with the median
 * p99.
 */
export async function measureNodeLoad(
  uploads: number,
  bytesEach: number,
  runs: number,
): Promise<NodeLoadResult & { runs: NodeLoadResult[] }> {
  const shard = randomBytes(bytesEach);
  const results: NodeLoadResult[] = [];
  for (let run = 0; run < runs; run++) {
    const bench = await startBenchNode();
    try {
      await scrape(bench.node.url); // resets the node's event-loop histogram
      const started = performance.now();
      await Promise.all(Array.from({ length: uploads }, () => bench.upload(shard, 256 * 1024)));
      const seconds = (performance.now() - started) / 1000;
      const metrics = await scrape(bench.node.url);
      const lateness = (name: string) =>
        (metrics.get(`dstore_nodejs_eventloop_lag_${name}_seconds`) ?? Number.NaN) * 1000 -
        EVENT_LOOP_SAMPLE_MS;
      results.push({ uploads, bytesEach, seconds, p99Ms: lateness("p99"), maxMs: lateness("max") });
    } finally {
      await bench.stop();
    }
  }
  const byP99 = [...results].sort((a, b) => a.p99Ms - b.p99Ms);
  return { ...byP99[Math.floor((byP99.length - 1) / 2)]!, runs: results };
}
