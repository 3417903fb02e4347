import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ShardStore } from "./shard-store.ts";

/** The node's Prometheus metrics (served at `/metrics`). */
export interface NodeMetrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  errors: Counter<"error">;
  bytesIn: Counter;
  bytesOut: Counter;
}

/**
 * How often the event-loop lag metrics (`dstore_nodejs_eventloop_lag_*`) sample, in ms.
 * Node's histogram records the time between two samples, so each value is this interval
 * plus how late the sample came: an idle node reports ~20 ms. prom-client's default of
 * 10 ms woke an idle node 100 times a second and doubled its CPU (~10 ms a second here,
 * against ~5 at 20 ms and ~4 at 50); 20 ms still gives 50 samples a second.
 */
export const EVENT_LOOP_SAMPLE_MS = 20;

/** Create the metrics of one node; store gauges read the store when scraped. */
export function createMetrics(store: ShardStore): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({
    register: registry,
    prefix: "dstore_",
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("dstore_store_capacity_bytes", "Bytes the operator offers", () => store.capacity);
  gauge("dstore_store_used_bytes", "Bytes held by stored shards", () => store.used);
  gauge("dstore_store_reserved_bytes", "Bytes held for uploads in flight", () => store.reserved);
  gauge("dstore_store_shards", "Shards stored", () => store.count);
  return {
    registry,
    requests: new Counter({
      name: "dstore_http_requests_total",
      help: "HTTP requests answered",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "dstore_http_errors_total",
      help: "HTTP requests answered with an error, by error name",
      labelNames: ["error"],
      registers: [registry],
    }),
    bytesIn: new Counter({
      name: "dstore_shard_bytes_received_total",
      help: "Shard bytes stored",
      registers: [registry],
    }),
    bytesOut: new Counter({
      name: "dstore_shard_bytes_sent_total",
      help: "Shard bytes served",
      registers: [registry],
    }),
  };
}
