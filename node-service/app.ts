import express, { type Express } from "express";
import { NodeServiceError } from "./errors.ts";
import { errorHandler } from "./http-errors.ts";
import { type ShardRouteComponents, shardRoutes } from "./routes/shards.ts";
import { type NodeIdentity, statusRoutes } from "./routes/status.ts";

/** Everything the node's HTTP API is built from. */
export interface NodeComponents extends ShardRouteComponents {
  identity: NodeIdentity;
}

/**
 * The storage node's Express app. No body parser: shard bodies are streamed straight to
 * the store. Every error leaves through {@link errorHandler}.
 */
export function createApp(c: NodeComponents): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((req, res, next) => {
    res.on("finish", () => {
      const route = (req.route?.path as string | undefined) ?? "unmatched";
      c.metrics.requests.inc({ method: req.method, route, status: res.statusCode });
    });
    next();
  });
  app.use(statusRoutes(c.identity, c.store, c.metrics, c.rootTrailers));
  app.use(shardRoutes(c));
  app.use(() => {
    throw new NodeServiceError("NotFound", "no such endpoint");
  });
  app.use(errorHandler(c.logger, c.metrics));
  return app;
}
