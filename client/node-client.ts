import type { IncomingMessage } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import { DstoreError } from "./errors.ts";
import { parseResponseHead } from "./http-head.ts";
import { AUTHORIZATION_HEADER } from "./protocol/authorization-header.ts";
import type { SignedReceipt } from "./protocol/eip712.ts";
import type { ShardId } from "./protocol/shard-id.ts";
import { UPLOAD_PROTOCOL, UPLOAD_UPGRADE_HEADER } from "./protocol/upload-upgrade.ts";

// node:http with keep-alive: streaming bodies with backpressure, write callbacks that
// say when a chunk has left (so its memory can be reused), and per-request timeouts.
const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });

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
  /**
   * False while roots signed after a shard (an HTTP trailer) do not reach the node (a proxy
   * in front of it); absent from nodes from before such roots.
   */
  rootTrailers?: boolean;
  /** The protocol the node takes uploads on after an upgrade; absent from older nodes. */
  uploadUpgrade?: string;
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

/** The error a node answered with, as a NodeRequestError that names it. */
export function nodeError(
  base: string,
  what: string,
  status: number,
  text: string,
): DstoreError & { status: number; errorName: string } {
  let detail = `HTTP ${status}`;
  let name = "";
  try {
    const parsed = JSON.parse(text) as { error?: string; message?: string };
    name = parsed.error ?? "";
    detail = `${parsed.error ?? status}: ${parsed.message ?? ""}`;
  } catch {
    // not a JSON error body
  }
  return Object.assign(
    new DstoreError("NodeRequestError", `${what} at ${base} failed (${detail})`),
    {
      status,
      errorName: name,
    },
  );
}

export function networkError(base: string, what: string, cause: unknown): DstoreError {
  if (cause instanceof DstoreError) return cause;
  const code = (cause as { code?: string }).code ?? (cause as Error).message;
  return new DstoreError("NodeRequestError", `${what} at ${base} failed (${code})`, { cause });
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Send a request without a body and wait for the response head. The request fails if
 * the node sends nothing for `timeout` ms (the socket's idle time, body included).
 */
function send(
  base: string,
  path: string,
  what: string,
  init: { method: string; headers?: Record<string, string>; timeout: number; signal?: AbortSignal },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url(base, path), {
      method: init.method,
      agent,
      headers: init.headers ?? {},
      timeout: init.timeout,
    });
    let answered = false;
    // Once the answer has begun, destroy without an error: the body's reader sees it end
    // early, and the socket (whose error listener the answer removed) emits nothing.
    const abort = () =>
      answered
        ? req.destroy()
        : req.destroy(new DstoreError("NodeRequestError", `${what} at ${base} was cancelled`));
    if (init.signal?.aborted) abort();
    init.signal?.addEventListener("abort", abort, { once: true });
    req.on("close", () => init.signal?.removeEventListener("abort", abort));
    req.on("timeout", () =>
      answered ? req.destroy() : req.destroy(new Error(`no answer for ${init.timeout} ms`)),
    );
    req.on("error", (cause) => reject(networkError(base, what, cause)));
    req.on("response", (res) => {
      answered = true;
      // Errors reach whoever reads the body; unread, they must not crash the process.
      res.on("error", () => {});
      resolve(res);
    });
    req.end();
  });
}

/** Most ms a node may take to answer once it has every byte of a shard. */
const RECEIPT_TIMEOUT = 10 * 60_000;

/** A shard upload in progress, fed chunk by chunk. */
export interface ShardUpload {
  /** Send the next bytes; resolves once they have been handed to the kernel. */
  write(chunk: Buffer): Promise<void>;
  /**
   * End the body and wait for the node's signed receipt. An upload opened with
   * `deferredRoot` ends with `trailer`: the authorization naming the shard's root.
   */
  finish(trailer?: string): Promise<SignedReceipt>;
  /** Cut the upload off (the node discards it). */
  abort(reason: string): void;
  /** Rejects as soon as the upload fails: a node error, a lost connection, a stall. */
  readonly failed: Promise<never>;
}

/** Options of {@link openShardUpload}. */
export interface ShardUploadOptions {
  /** Most ms the node may take no bytes before the upload fails (default 30 s). */
  stallTimeout?: number;
  /**
   * The authorization's root is `DEFERRED_ROOT`: the body goes chunked, and `finish` sends
   * the authorization that names the root as its trailer.
   */
  deferredRoot?: boolean;
  /**
   * Send the body on the connection itself after an upgrade to {@link UPLOAD_PROTOCOL}
   * (a node whose `/v1/status` names it): the node reads it straight into its blocks. If a
   * proxy on the way loses the upgrade, the shard goes as a plain PUT.
   */
  upgrade?: boolean;
}

/** Where a shard's body goes: a plain PUT's request, or an upgraded connection. */
interface BodySink {
  /** `done` is called once the bytes are handed to the kernel, or with why not. */
  write(chunk: Buffer, done: (error?: Error | null) => void): void;
  /** The body is all sent; `trailer` is the authorization naming the root, if deferred. */
  end(trailer: string | undefined): void;
}

/** Where nothing goes any more: the upload has its answer, or has failed. */
const CLOSED_SINK: BodySink = {
  write: (_chunk, done) => done(new Error("the upload is over")),
  end: () => {},
};

/** Nodes behind something that loses upgrades (this process's memory): plain PUTs go there. */
const upgradesLost = new Set<string>();

/** Start storing a shard of `size` bytes on a node. */
export function openShardUpload(
  base: string,
  shardId: ShardId,
  authorization: string,
  size: number,
  { stallTimeout = 30_000, deferredRoot = false, upgrade = false }: ShardUploadOptions = {},
): ShardUpload {
  const what = "storing a shard";
  const target = url(base, `/v1/shards/${shardId}`);
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

  // The body's writes wait here until the node has said where the body goes.
  let sink: BodySink | undefined;
  const waiting: [Buffer, (error?: Error | null) => void][] = [];
  let ending: { trailer: string | undefined } | undefined;
  const sinkReady = (given: BodySink) => {
    if (sink) return;
    sink = given;
    for (const [chunk, done] of waiting.splice(0)) given.write(chunk, done);
    if (ending) given.end(ending.trailer);
  };
  /** Drops the request or connection in use. */
  let cancel = () => {};
  const stalled = () => fail(new Error(`no progress for ${stallTimeout} ms`));
  let timer = setTimeout(stalled, stallTimeout);
  const settle = () => {
    settled = true;
    clearTimeout(timer);
    cancel();
    sinkReady(CLOSED_SINK);
  };
  const fail = (cause: unknown) => {
    if (settled) return;
    settle();
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
  /** The node's answer: a receipt (200 or 201), else the error it names. */
  const answered = (status: number, text: string) => {
    if (settled) return;
    if (status !== 201 && status !== 200) {
      fail(nodeError(base, what, status, text));
      return;
    }
    try {
      const parsed = JSON.parse(text) as SignedReceipt;
      settled = true;
      clearTimeout(timer);
      sinkReady(CLOSED_SINK);
      resolveReceipt(parsed);
    } catch (cause) {
      fail(cause);
    }
  };

  const plainPut = (): BodySink => {
    const req = httpRequest(target, {
      method: "PUT",
      agent,
      headers: {
        [AUTHORIZATION_HEADER]: authorization,
        "content-type": "application/octet-stream",
        // Trailers need a chunked body; the node holds it to the signed size all the same.
        ...(deferredRoot ? { trailer: AUTHORIZATION_HEADER } : { "content-length": String(size) }),
      },
    });
    cancel = () => req.destroy();
    req.on("error", fail);
    req.on("response", (res) => {
      readText(res).then((text) => answered(res.statusCode ?? 0, text), fail);
    });
    return {
      write: (chunk, done) => req.write(chunk, done),
      end: (trailer) => {
        if (trailer !== undefined) req.addTrailers({ [AUTHORIZATION_HEADER]: trailer });
        req.end();
      },
    };
  };

  const upgradedPut = () => {
    const req = httpRequest(target, {
      method: "PUT",
      agent,
      headers: {
        [AUTHORIZATION_HEADER]: authorization,
        connection: "Upgrade",
        upgrade: UPLOAD_PROTOCOL,
        [UPLOAD_UPGRADE_HEADER]: UPLOAD_PROTOCOL,
      },
    });
    cancel = () => req.destroy();
    req.on("error", fail);
    // An answer before the body: a receipt, an error, or the upgrade lost on the way.
    req.on("response", (res) => {
      readText(res).then((text) => {
        const status = res.statusCode ?? 0;
        if (status === 200 || status === 201) return answered(status, text);
        // Lost on the way: the node says so, or something in front of it refused the
        // upgrade itself (an answer that names no node error).
        const error = nodeError(base, what, status, text);
        if (error.errorName !== "UpgradeLost" && error.errorName !== "") return fail(error);
        upgradesLost.add(base);
        if (!settled) sinkReady(plainPut());
      }, fail);
    });
    req.on("upgrade", (_res, socket, head) => {
      let received = head;
      // The answer is taken as soon as it is whole, which may be before the body is all
      // sent (an error): before the writes still under way fail, and whenever the close
      // that follows it comes.
      const take = (ended: boolean) => {
        try {
          const answer = parseAnswer(received, ended);
          if (answer) answered(answer.status, answer.body);
          else if (ended) fail(new Error("the node closed the connection without an answer"));
        } catch (error) {
          fail(error);
        }
      };
      socket.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        take(false);
      });
      socket.on("error", fail);
      socket.on("end", () => take(true));
      socket.on("close", () => fail(new Error("the connection closed without an answer")));
      cancel = () => socket.destroy();
      if (settled) socket.destroy();
      else
        sinkReady({
          write: (chunk, done) => socket.write(chunk, done),
          end: (trailer) => {
            if (trailer !== undefined) socket.write(`${trailer}\r\n`, "latin1");
          },
        });
    });
    req.end();
  };

  if (upgrade && !upgradesLost.has(base)) upgradedPut();
  else sinkReady(plainPut());

  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (settled) {
          reject(new DstoreError("NodeRequestError", `${what} at ${base} was cut off`));
          return;
        }
        const sent = (cause?: Error | null) => {
          if (cause) {
            fail(cause);
            reject(cause);
            return;
          }
          clearTimeout(timer);
          if (!settled) timer = setTimeout(stalled, stallTimeout);
          resolve();
        };
        if (sink) sink.write(chunk, sent);
        else waiting.push([chunk, sent]);
      }),
    finish: (trailer) => {
      if (!settled) {
        if (sink) sink.end(trailer);
        else ending = { trailer };
        // The node now fsyncs, renames and signs: that may take a while for a big shard
        // on a slow disk, and is not a stall.
        clearTimeout(timer);
        timer = setTimeout(
          () => fail(new Error(`no receipt ${RECEIPT_TIMEOUT} ms after the last byte`)),
          RECEIPT_TIMEOUT,
        );
      }
      return receipt;
    },
    abort: (reason) => fail(new Error(reason)),
    failed,
  };
}

/** Most bytes of the head of a node's answer on an upgraded connection. */
const ANSWER_HEAD_LIMIT = 16 * 1024;

/**
 * Status and body of an HTTP/1.1 answer read off an upgraded connection: once its body
 * has the head's Content-Length, or, without one, once the connection has `ended`.
 */
function parseAnswer(bytes: Buffer, ended: boolean): { status: number; body: string } | undefined {
  const head = parseResponseHead(bytes, ANSWER_HEAD_LIMIT);
  if (!head) return undefined;
  const length = head.headers.get("content-length");
  const body = bytes.subarray(head.bodyAt);
  if (length === undefined ? !ended : body.length < Number(length)) return undefined;
  return { status: head.status, body: body.toString("utf8") };
}

/** Store a shard on a node from a stream of its bytes; resolves to the signed receipt. */
export async function putShard(
  base: string,
  shardId: ShardId,
  authorization: string,
  body: Readable,
  size: number,
  options: NodeRequestOptions & Pick<ShardUploadOptions, "upgrade"> = {},
): Promise<SignedReceipt> {
  const upload = openShardUpload(base, shardId, authorization, size, {
    stallTimeout: options.idleTimeout ?? 60_000,
    upgrade: options.upgrade ?? false,
  });
  for await (const chunk of body)
    await Promise.race([upload.write(chunk as Buffer), upload.failed]);
  return upload.finish();
}

/** Whether a node holds a shard (`HEAD`). */
export async function headShard(
  base: string,
  shardId: ShardId,
  options: NodeRequestOptions = {},
): Promise<boolean> {
  const res = await send(base, `/v1/shards/${shardId}`, "checking a shard", {
    method: "HEAD",
    timeout: options.idleTimeout ?? 10_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  res.resume();
  return res.statusCode === 200;
}

/** Ask a node to drop a shard (signed by the file's owner or uploader). */
export async function deleteShard(
  base: string,
  shardId: ShardId,
  authorization: string,
  options: NodeRequestOptions = {},
): Promise<void> {
  const what = "deleting a shard";
  const res = await send(base, `/v1/shards/${shardId}`, what, {
    method: "DELETE",
    headers: { [AUTHORIZATION_HEADER]: authorization },
    timeout: options.idleTimeout ?? 10_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await readText(res).catch(() => "");
  if (res.statusCode !== 204) throw nodeError(base, what, res.statusCode ?? 0, text);
}

/** A node's `/v1/status`. */
export async function nodeStatus(
  base: string,
  options: NodeRequestOptions = {},
): Promise<NodeStatusReport> {
  const what = "reading status";
  const res = await send(base, "/v1/status", what, {
    method: "GET",
    timeout: options.idleTimeout ?? 3_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await readText(res).catch((cause: unknown) => {
    throw networkError(base, what, cause);
  });
  if (res.statusCode !== 200) throw nodeError(base, what, res.statusCode ?? 0, text);
  try {
    return JSON.parse(text) as NodeStatusReport;
  } catch (cause) {
    throw networkError(base, what, cause);
  }
}
