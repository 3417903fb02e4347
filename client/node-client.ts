import { Agent as HttpAgent, request as httpRequest } from "node:http";
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

// Uploads use node:http, whose write callbacks say when a chunk has left: the caller can
// then reuse the memory it came from (a ring slot shared with the codec workers).
const uploadAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

/** A shard upload in progress, fed chunk by chunk. */
export interface ShardUpload {
  /** Send the next bytes; resolves once they have been handed to the kernel. */
  write(chunk: Buffer): Promise<void>;
  /** End the body and wait for the node's signed receipt. */
  finish(): Promise<SignedReceipt>;
  /** Cut the upload off (the node discards it). */
  abort(reason: string): void;
  /** Rejects as soon as the upload fails: a node error, a lost connection, a stall. */
  readonly failed: Promise<never>;
}

/**
 * Start storing a shard of `size` bytes on a node. A node that takes no bytes for
 * `stallTimeout` ms fails the upload.
 */
export function openShardUpload(
  base: string,
  shardId: ShardId,
  authorization: string,
  size: number,
  { stallTimeout = 30_000 }: { stallTimeout?: number } = {},
): ShardUpload {
  const what = "storing a shard";
  let settled = false;
  let resolveReceipt!: (receipt: SignedReceipt) => void;
  let rejectAll!: (error: Error) => void;
  const receipt = new Promise<SignedReceipt>((resolve, reject) => {
    resolveReceipt = resolve;
    rejectAll = reject;
  });
  receipt.catch(() => {});
  // Settles only on failure: a finished upload leaves it pending forever.
  const failed = receipt.then(() => new Promise<never>(() => {}));
  failed.catch(() => {});

  const req = httpRequest(url(base, `/v1/shards/${shardId}`), {
    method: "PUT",
    agent: uploadAgent,
    headers: {
      [AUTHORIZATION_HEADER]: authorization,
      "content-type": "application/octet-stream",
      "content-length": String(size),
    },
  });
  const stalled = () => fail(new Error(`no progress for ${stallTimeout} ms`));
  let timer = setTimeout(stalled, stallTimeout);
  const fail = (cause: unknown) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    req.destroy();
    rejectAll(
      cause instanceof DstoreError
        ? cause
        : new DstoreError(
            "NodeRequestError",
            `${what} at ${base} failed (${(cause as Error).message})`,
            { cause },
          ),
    );
  };
  req.on("error", fail);
  req.on("response", (res) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("error", fail);
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (res.statusCode !== 201 && res.statusCode !== 200) {
        let detail = `HTTP ${res.statusCode}`;
        let name = "";
        try {
          const parsed = JSON.parse(text) as { error?: string; message?: string };
          name = parsed.error ?? "";
          detail = `${parsed.error ?? res.statusCode}: ${parsed.message ?? ""}`;
        } catch {
          // not a JSON error body
        }
        fail(
          Object.assign(
            new DstoreError("NodeRequestError", `${what} at ${base} failed (${detail})`),
            {
              status: res.statusCode,
              errorName: name,
            },
          ),
        );
        return;
      }
      try {
        const parsed = JSON.parse(text) as SignedReceipt;
        settled = true;
        clearTimeout(timer);
        resolveReceipt(parsed);
      } catch (cause) {
        fail(cause);
      }
    });
  });
  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (settled) {
          reject(new DstoreError("NodeRequestError", `${what} at ${base} was cut off`));
          return;
        }
        req.write(chunk, (cause) => {
          if (cause) {
            fail(cause);
            reject(cause);
            return;
          }
          clearTimeout(timer);
          if (!settled) timer = setTimeout(stalled, stallTimeout);
          resolve();
        });
      }),
    finish: () => {
      if (!settled) req.end();
      return receipt;
    },
    abort: (reason) => fail(new Error(reason)),
    failed,
  };
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
