import type { Readable } from "node:stream";
import { Agent, request } from "undici";
import { DstoreError } from "./errors.ts";
import { AUTHORIZATION_HEADER } from "./protocol/authorization-header.ts";
import type { SignedReceipt } from "./protocol/eip712.ts";
import type { ShardId } from "./protocol/shard-id.ts";

// undici: keep-alive connection pools, streaming bodies with backpressure, and timeouts
// per request, which Node's own fetch does not expose as directly.
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 32, connect: { timeout: 5_000 } });

/** Status of a node as `/v1/status` reports it. */
export interface NodeStatusReport {
  nodeId: number;
  operator: string;
  endpoint: string;
  chainId: string;
  fileRegistry: string;
  capacity: number;
  used: number;
  reserved: number;
  free: number;
  shards: number;
  version: string;
}

/** A shard's bytes as a stream, from a node. */
export interface ShardDownload {
  body: Readable & AsyncIterable<Buffer>;
  /** Bytes the body will carry. */
  length: number;
}

/** Options common to node requests. */
export interface NodeRequestOptions {
  signal?: AbortSignal;
  /** Most ms without a byte moving before the request fails. */
  idleTimeout?: number;
}

function url(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path}`;
}

async function fail(
  base: string,
  what: string,
  status: number,
  body: { text(): Promise<string> },
): Promise<never> {
  let detail = `HTTP ${status}`;
  let name = "";
  try {
    const parsed = JSON.parse(await body.text()) as { error?: string; message?: string };
    name = parsed.error ?? "";
    detail = `${parsed.error ?? status}: ${parsed.message ?? ""}`;
  } catch {
    // not a JSON error body
  }
  throw Object.assign(
    new DstoreError("NodeRequestError", `${what} at ${base} failed (${detail})`),
    {
      status,
      errorName: name,
    },
  );
}

function wrapNetworkError(base: string, what: string, cause: unknown): never {
  if (cause instanceof DstoreError) throw cause;
  const code = (cause as { code?: string }).code ?? (cause as Error).name;
  throw new DstoreError("NodeRequestError", `${what} at ${base} failed (${code})`, { cause });
}

/** Store a shard on a node; resolves to the node's signed receipt. */
export async function putShard(
  base: string,
  shardId: ShardId,
  authorization: string,
  body: Readable,
  size: number,
  options: NodeRequestOptions = {},
): Promise<SignedReceipt> {
  try {
    const response = await request(url(base, `/v1/shards/${shardId}`), {
      method: "PUT",
      dispatcher: agent,
      headers: {
        [AUTHORIZATION_HEADER]: authorization,
        "content-type": "application/octet-stream",
        "content-length": String(size),
      },
      body,
      signal: options.signal ?? null,
      bodyTimeout: options.idleTimeout ?? 60_000,
      headersTimeout: options.idleTimeout ?? 60_000,
    });
    if (response.statusCode !== 201 && response.statusCode !== 200) {
      await fail(base, "storing a shard", response.statusCode, response.body);
    }
    return (await response.body.json()) as SignedReceipt;
  } catch (cause) {
    wrapNetworkError(base, "storing a shard", cause);
  }
}

/** Stream a shard (or `bytes=start-` of it) from a node. */
export async function getShard(
  base: string,
  shardId: ShardId,
  start = 0,
  options: NodeRequestOptions = {},
): Promise<ShardDownload> {
  try {
    const response = await request(url(base, `/v1/shards/${shardId}`), {
      method: "GET",
      dispatcher: agent,
      headers: start > 0 ? { range: `bytes=${start}-` } : {},
      signal: options.signal ?? null,
      bodyTimeout: options.idleTimeout ?? 30_000,
      headersTimeout: options.idleTimeout ?? 30_000,
    });
    if (response.statusCode !== (start > 0 ? 206 : 200)) {
      await fail(base, "fetching a shard", response.statusCode, response.body);
    }
    const length = Number(response.headers["content-length"]);
    return { body: response.body as unknown as Readable & AsyncIterable<Buffer>, length };
  } catch (cause) {
    wrapNetworkError(base, "fetching a shard", cause);
  }
}

/** Ask a node to drop a shard (signed by the file's owner or uploader). */
export async function deleteShard(
  base: string,
  shardId: ShardId,
  authorization: string,
  options: NodeRequestOptions = {},
): Promise<void> {
  try {
    const response = await request(url(base, `/v1/shards/${shardId}`), {
      method: "DELETE",
      dispatcher: agent,
      headers: { [AUTHORIZATION_HEADER]: authorization },
      signal: options.signal ?? null,
      headersTimeout: options.idleTimeout ?? 10_000,
    });
    if (response.statusCode !== 204)
      await fail(base, "deleting a shard", response.statusCode, response.body);
    await response.body.dump();
  } catch (cause) {
    wrapNetworkError(base, "deleting a shard", cause);
  }
}

/** A node's `/v1/status`. */
export async function nodeStatus(
  base: string,
  options: NodeRequestOptions = {},
): Promise<NodeStatusReport> {
  try {
    const response = await request(url(base, "/v1/status"), {
      dispatcher: agent,
      signal: options.signal ?? null,
      headersTimeout: options.idleTimeout ?? 3_000,
      bodyTimeout: options.idleTimeout ?? 3_000,
    });
    if (response.statusCode !== 200)
      await fail(base, "reading status", response.statusCode, response.body);
    return (await response.body.json()) as NodeStatusReport;
  } catch (cause) {
    wrapNetworkError(base, "reading status", cause);
  }
}
