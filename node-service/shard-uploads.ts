import { DEFERRED_ROOT, type SignedReceipt } from "../client/protocol/eip712.ts";
import { isShardId, type ShardId } from "../client/protocol/shard-id.ts";
import type { UploadGrant } from "./authorizer.ts";
import { NodeServiceError } from "./errors.ts";
import type { ShardRouteComponents } from "./routes/shards.ts";
import type { Reservation, ShardBody } from "./shard-store.ts";

/** Most ms an upload may go without a byte before the node drops it. */
export const UPLOAD_IDLE_TIMEOUT = 60_000;

/** An upload the node has agreed to take, its space held, before a byte of its body. */
export interface AdmittedUpload {
  shardId: ShardId;
  grant: UploadGrant;
  /** The authorization as it came (its root is checked again against a later one). */
  authorization: string;
  /** Signed without its root: the root comes after the body. */
  deferred: boolean;
  reservation: Reservation;
}

/**
 * An upload's checks that need no body, as a plain PUT and an upgraded one make them: the
 * shard id, the authorization (then `check`, the request's own), and the shard already
 * kept (a repeat is answered with its receipt). Else the upload's space is held for it.
 */
export async function admitUpload(
  c: ShardRouteComponents,
  shardIdText: unknown,
  authorization: string | undefined,
  check: (grant: UploadGrant, deferred: boolean) => void = () => {},
): Promise<{ receipt: SignedReceipt } | AdmittedUpload> {
  const shardId = parseShardId(shardIdText);
  const grant = await c.authorizer.verifyUpload(authorization, shardId);
  const deferred = grant.root === DEFERRED_ROOT;
  check(grant, deferred);
  const existing = c.store.get(shardId);
  if (existing) {
    if (deferred) throw new NodeServiceError("ShardExists", "this node already stores that shard");
    if (existing.root !== grant.root || existing.size !== grant.size) {
      throw new NodeServiceError("ShardExists", "this node stores a different shard under that id");
    }
    return { receipt: await c.receipts.sign(existing) };
  }
  const reservation = c.store.reserve(grant.size);
  return { shardId, grant, authorization: authorization!, deferred, reservation };
}

/**
 * Store an admitted upload's body and sign its receipt. `rootAfter` gives what came after
 * the body of an upload signed without its root (undefined if nothing did).
 */
export async function storeUpload(
  c: ShardRouteComponents,
  upload: AdmittedUpload,
  body: ShardBody,
  rootAfter: () => Promise<string | undefined> | string | undefined,
): Promise<SignedReceipt> {
  const { shardId, grant, authorization } = upload;
  const checkRoot = upload.deferred
    ? async () => c.authorizer.verifyUploadRoot(authorization, await rootAfter())
    : undefined;
  const meta = await c.store.write({ shardId, ...grant }, body, upload.reservation, checkRoot);
  c.metrics.bytesIn.inc(meta.size);
  c.logger.debug("shard stored", { shardId, size: meta.size });
  return c.receipts.sign(meta);
}

export function parseShardId(value: unknown): ShardId {
  if (!isShardId(value)) {
    throw new NodeServiceError("InvalidShardId", "a shard id is 64 lowercase hex characters");
  }
  return value;
}
