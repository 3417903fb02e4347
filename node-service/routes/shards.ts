import { type Request, type Response, Router } from "express";
import type { Logger } from "../../client/logger.ts";
import { AUTHORIZATION_HEADER } from "../../client/protocol/authorization-header.ts";
import { UPLOAD_UPGRADE_HEADER } from "../../client/protocol/upload-upgrade.ts";
import type { Authorizer } from "../authorizer.ts";
import { NodeServiceError } from "../errors.ts";
import type { NodeMetrics } from "../metrics.ts";
import type { Prover } from "../prover.ts";
import type { ReceiptSigner } from "../receipt-signer.ts";
import type { RootTrailers } from "../root-trailers.ts";
import type { ShardStore } from "../shard-store.ts";
import { admitUpload, parseShardId, storeUpload, UPLOAD_IDLE_TIMEOUT } from "../shard-uploads.ts";

/** What the shard routes need. */
export interface ShardRouteComponents {
  store: ShardStore;
  authorizer: Authorizer;
  prover: Prover;
  receipts: ReceiptSigner;
  /** Whether roots signed after their shards reach this node (`/v1/status` says). */
  rootTrailers: RootTrailers;
  metrics: NodeMetrics;
  logger: Logger;
  /** The file's owner on chain, or undefined while it is not registered. */
  ownerOf(fileId: string): Promise<string | undefined>;
}

/** `/v1/shards/...`: store, fetch, prove and delete shards. Handlers parse, call, answer. */
export function shardRoutes(c: ShardRouteComponents): Router {
  const router = Router();

  router.put("/v1/shards/:shardId", async (req, res) => {
    // An upgrade a proxy did not pass on: its body never comes. Refused before the
    // authorization is checked, so that its nonce is still good for a plain PUT.
    if (req.get(UPLOAD_UPGRADE_HEADER) !== undefined) {
      throw new NodeServiceError(
        "UpgradeLost",
        "this upload asked to go on over an upgraded connection and the upgrade was lost on the way (a proxy that does not pass upgrades on?); send it as a plain PUT",
      );
    }
    const admitted = await admitUpload(
      c,
      req.params.shardId,
      req.get(AUTHORIZATION_HEADER),
      (grant, deferred) => {
        // A root signed after the body comes in the request's trailer, which needs a chunked
        // body: one with a length (a proxy that buffers bodies, as nginx does) has lost it, so
        // it is refused before a byte is read.
        if (deferred && req.get("content-length") !== undefined) {
          c.rootTrailers.lost();
          throw new NodeServiceError(
            "RootTrailerMissing",
            "an upload signed without its root sends its body chunked, the signed root in a trailer; this one came with a length (a proxy on the way that buffers bodies?)",
          );
        }
        checkContentLength(req, grant.size);
      },
    );
    if ("receipt" in admitted) {
      res.status(200).json(admitted.receipt);
      return;
    }
    // A client that stops sending (its machine died, a half-open connection) must not
    // hold its reservation forever: after a minute without a byte the upload is dropped.
    req.setTimeout(UPLOAD_IDLE_TIMEOUT, () =>
      req.destroy(new NodeServiceError("RequestAborted", `no bytes for ${UPLOAD_IDLE_TIMEOUT} ms`)),
    );
    const receipt = await storeUpload(c, admitted, req, () => {
      const trailer = req.trailers[AUTHORIZATION_HEADER];
      // A trailer lost on the way (a proxy): the node says so in its status for a while.
      if (trailer === undefined) c.rootTrailers.lost();
      return trailer;
    });
    res.status(201).json(receipt);
  });

  router.get("/v1/shards/:shardId", async (req, res) => {
    const shardId = parseShardId(req.params.shardId);
    const meta = c.store.get(shardId);
    if (!meta) throw new NodeServiceError("ShardNotFound", "this node does not store that shard");
    const { start, end } = rangeOf(req, res, meta.size);
    res.setHeader("X-Dstore-Root", meta.root);
    res.setHeader("Accept-Ranges", "bytes");
    res.setHeader("Content-Type", "application/octet-stream");
    res.setHeader("Content-Length", String(end - start + 1));
    if (req.method === "HEAD" || end < start) {
      res.end();
      return;
    }
    await c.store.sendRange(shardId, start, end, res);
    res.end();
    c.metrics.bytesOut.inc(end - start + 1);
  });

  router.get("/v1/shards/:shardId/proof", async (req, res) => {
    const shardId = parseShardId(req.params.shardId);
    const leafText = typeof req.query.leaf === "string" ? req.query.leaf : "";
    if (!/^\d{1,15}$/.test(leafText)) {
      throw new NodeServiceError("InvalidRequest", "give the leaf to prove as ?leaf=N");
    }
    const proof = await c.prover.prove(shardId, Number(leafText));
    res.json({
      shardId: proof.shardId,
      leafIndex: proof.leafIndex,
      leaf: proof.leaf.toString("base64"),
      path: proof.path.map((hash) => `0x${hash.toString("hex")}`),
      root: proof.root,
      size: proof.size,
    });
  });

  router.delete("/v1/shards/:shardId", async (req, res) => {
    const shardId = parseShardId(req.params.shardId);
    const grant = await c.authorizer.verifyDeletion(req.get(AUTHORIZATION_HEADER), shardId);
    const meta = c.store.get(shardId);
    if (!meta) throw new NodeServiceError("ShardNotFound", "this node does not store that shard");
    const owner = (await c.ownerOf(grant.fileId)) ?? meta.uploader;
    if (owner.toLowerCase() !== grant.signer.toLowerCase()) {
      throw new NodeServiceError("NotOwner", "only the file's owner may delete its shards");
    }
    await c.store.remove(shardId);
    res.status(204).end();
  });

  // Anything else under /v1/shards (slashes, dot segments, encoded tricks) is not a shard id.
  router.all("/v1/shards/*rest", () => {
    throw new NodeServiceError("InvalidShardId", "a shard id is 64 lowercase hex characters");
  });

  return router;
}

function checkContentLength(req: Request, size: number): void {
  const header = req.get("content-length");
  if (header === undefined) return;
  const length = Number(header);
  if (length > size)
    throw new NodeServiceError(
      "BodyTooLarge",
      `the body is longer than the ${size} bytes signed for`,
    );
  if (length < size)
    throw new NodeServiceError("SizeMismatch", `the body has ${length} bytes, the shard ${size}`);
}

/**
 * The byte range a GET asks for: the whole shard, or one `Range: bytes=` range (206). An
 * unsatisfiable range is a 416; a malformed or multi-part Range header is ignored, as
 * RFC 9110 allows, and the whole shard is sent.
 */
function rangeOf(req: Request, res: Response, size: number): { start: number; end: number } {
  if (req.get("range") === undefined) return { start: 0, end: size - 1 };
  const ranges = req.range(size, { combine: true });
  if (ranges === -1) {
    res.setHeader("Content-Range", `bytes */${size}`);
    throw new NodeServiceError("RangeNotSatisfiable", `the shard has ${size} bytes`);
  }
  if (!Array.isArray(ranges) || ranges.type !== "bytes" || ranges.length !== 1)
    return { start: 0, end: size - 1 };
  const { start, end } = ranges[0]!;
  res.status(206);
  res.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
  return { start, end };
}
