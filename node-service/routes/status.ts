import { Router } from "express";
import { UPLOAD_PROTOCOL } from "../../client/protocol/upload-upgrade.ts";
import type { NodeMetrics } from "../metrics.ts";
import type { RootTrailers } from "../root-trailers.ts";
import type { ShardStore } from "../shard-store.ts";

/** Who a node is, as `/v1/status` reports it. */
export interface NodeIdentity {
  nodeId(): number;
  operator: string;
  endpoint: string;
  chainId: bigint;
  fileRegistry: string;
  version: string;
}

/** `/v1/status` and `/metrics`. */
export function statusRoutes(
  identity: NodeIdentity,
  store: ShardStore,
  metrics: NodeMetrics,
  rootTrailers: RootTrailers,
): Router {
  const router = Router();
  router.get("/v1/status", (_req, res) => {
    res.json({
      nodeId: identity.nodeId(),
      operator: identity.operator,
      endpoint: identity.endpoint,
      chainId: identity.chainId.toString(),
      fileRegistry: identity.fileRegistry,
      capacity: store.capacity,
      used: store.used,
      reserved: store.reserved,
      free: Math.max(0, store.capacity - store.used - store.reserved),
      shards: store.count,
      version: identity.version,
      rootTrailers: rootTrailers.arrive,
      uploadUpgrade: UPLOAD_PROTOCOL,
    });
  });
  router.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
