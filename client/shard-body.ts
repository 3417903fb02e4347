import { connect, type Socket } from "node:net";
import { DstoreError } from "./errors.ts";
import { parseResponseHead, type ResponseHead } from "./http-head.ts";
import { networkError, nodeError } from "./node-client.ts";
import type { ShardId } from "./protocol/shard-id.ts";

/** Most bytes of a response head (status line and headers). */
const HEAD_LIMIT = 16 * 1024;
/** Most bytes of an error answer's body kept for its message. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** Where the socket reads while no caller's buffer is waiting (the head, mostly). */
const SCRATCH_SIZE = 16 * 1024;

/** A shard's bytes as a node sends them, read straight into the caller's buffers. */
export interface ShardBody {
  /** Bytes the body carries. */
  readonly length: number;
  /** Fill all of `target` with the body's next bytes; one call at a time. */
  read(target: Uint8Array): Promise<void>;
  /** Stop reading and drop the connection; a pending read fails. */
  close(): void;
}

/** Options of {@link fetchShardBody}. */
export interface ShardBodyOptions {
  signal?: AbortSignal;
  /** Most ms to wait for the node's next byte while a read waits for one. */
  idleTimeout?: number;
}

/**
 * GET a shard (from byte `start`) from a node over plain HTTP/1.1, the body read by the
 * kernel straight into the caller's buffers.
 *
 * A get moves every byte through here: node:http hands each ≤64 KiB read to a parser and
 * a stream as a fresh Buffer, which the reader then copies into place. Measured on this
 * machine (bench/README.md), that cost the client ~1.6 CPU-s per GiB; reading into the
 * destination costs ~0.25. The request is ours, so the answer is narrow: a 200 (206 for a
 * range) with a Content-Length, or an error whose JSON body names it.
 */
export function fetchShardBody(
  base: string,
  shardId: ShardId,
  start = 0,
  options: ShardBodyOptions = {},
): Promise<ShardBody> {
  const what = "fetching a shard";
  let url: URL;
  try {
    url = new URL(base);
    if (url.protocol !== "http:") throw new Error(`${url.protocol} is not http:`);
  } catch (cause) {
    return Promise.reject(networkError(base, what, cause));
  }
  const path = `${url.pathname.replace(/\/+$/, "")}/v1/shards/${shardId}`;
  const range = start > 0 ? `Range: bytes=${start}-\r\n` : "";
  const request = `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n${range}\r\n`;
  return new Promise((resolve, reject) => {
    new Fetch(base, url, request, start > 0 ? 206 : 200, options, resolve, reject);
  });
}

/** One GET on its own connection: the head, then the body on demand. */
class Fetch implements ShardBody {
  length = 0;
  readonly #base: string;
  readonly #what = "fetching a shard";
  readonly #expected: number;
  readonly #socket: Socket;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
  readonly #idleTimeout: number;
  readonly #timer: NodeJS.Timeout;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () =>
    this.#fail(new DstoreError("NodeRequestError", `${this.#what} at ${this.#base} was cancelled`));
  #opened: ((body: ShardBody) => void) | undefined;
  #refused: ((error: Error) => void) | undefined;
  /** "head", then "body" for the shard or "error" for an error answer's body. */
  #phase: "head" | "body" | "error" = "head";
  #status = 0;
  #chunked = false;
  /** Bytes read into the scratch and not yet taken (the head, or body ahead of a read). */
  #held: Buffer = Buffer.alloc(0);
  /** Body bytes that have come in, held ones included. */
  #received = 0;
  #target: Uint8Array | undefined;
  #filled = 0;
  #done: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #error: Error | undefined;

  constructor(
    base: string,
    url: URL,
    request: string,
    expected: number,
    options: ShardBodyOptions,
    resolve: (body: ShardBody) => void,
    reject: (error: Error) => void,
  ) {
    this.#base = base;
    this.#opened = resolve;
    this.#refused = reject;
    this.#expected = expected;
    this.#idleTimeout = options.idleTimeout ?? 30_000;
    this.#signal = options.signal;
    this.#socket = connect({
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || 80),
      onread: { buffer: () => this.#nextBuffer(), callback: (n, buf) => this.#onRead(n, buf) },
    });
    this.#socket.on("error", (cause) => this.#fail(networkError(base, this.#what, cause)));
    this.#socket.on("close", () => this.#closed());
    // The socket keeps the process alive while a read waits; the timer need not.
    this.#timer = setTimeout(() => this.#idle(), this.#idleTimeout).unref();
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (this.#signal?.aborted) {
      this.#onAbort();
      return;
    }
    // Written, not ended: node:http drops a request whose client half-closes.
    this.#socket.write(request, "latin1");
  }

  read(target: Uint8Array): Promise<void> {
    if (this.#done) return Promise.reject(new Error("one read at a time"));
    if (this.#error) return Promise.reject(this.#error);
    if (this.#received - this.#held.length + target.length > this.length) {
      return Promise.reject(new RangeError("read past the end of the body"));
    }
    return new Promise<void>((resolve, reject) => {
      this.#target = target;
      this.#filled = 0;
      this.#done = { resolve, reject };
      this.#take();
      if (this.#target) {
        this.#timer.refresh();
        this.#socket.resume();
      }
    });
  }

  close(): void {
    this.#fail(new DstoreError("NodeRequestError", `${this.#what} at ${this.#base} was closed`));
  }

  /** Where the kernel puts the next bytes: the rest of the waiting target, if any. */
  #nextBuffer(): Uint8Array {
    const target = this.#target;
    return target && this.#held.length === 0 && this.#filled < target.length
      ? target.subarray(this.#filled)
      : this.#scratch;
  }

  /** `n` bytes arrived in `buffer`; returns whether to go on reading. */
  #onRead(n: number, buffer: Uint8Array): boolean {
    this.#timer.refresh();
    if (buffer === this.#scratch) {
      this.#held = Buffer.concat([this.#held, this.#scratch.subarray(0, n)]);
    } else {
      this.#filled += n;
    }
    if (this.#phase !== "head") this.#received += n;
    else if (!this.#head()) return this.#error === undefined;
    if (this.#phase === "error") return this.#errorBody();
    if (this.#received > this.length) {
      this.#fail(this.#protocolError("sent more than its Content-Length"));
      return false;
    }
    this.#take();
    return this.#target !== undefined;
  }

  /** Parse the head once it is all in; false while more is needed. */
  #head(): boolean {
    let head: ResponseHead | undefined;
    try {
      head = parseResponseHead(this.#held, HEAD_LIMIT);
    } catch (error) {
      this.#fail(this.#protocolError((error as Error).message));
      return false;
    }
    if (!head) return false;
    const { headers } = head;
    this.#status = head.status;
    this.#held = this.#held.subarray(head.bodyAt);
    this.#received = this.#held.length;
    const length = headers.get("content-length");
    if (this.#status !== this.#expected) {
      // Kept until the node closes (we asked it to) or the limit; a chunked body is cut
      // out of its framing when the message is made.
      this.#phase = "error";
      this.#chunked = /chunked/i.test(headers.get("transfer-encoding") ?? "");
      this.length = this.#chunked
        ? ERROR_BODY_LIMIT
        : Math.min(ERROR_BODY_LIMIT, Number(length ?? ERROR_BODY_LIMIT) || 0);
      return true;
    }
    if (length === undefined || !/^\d{1,15}$/.test(length) || headers.has("transfer-encoding")) {
      this.#fail(this.#protocolError("a shard without a Content-Length"));
      return false;
    }
    this.#phase = "body";
    this.length = Number(length);
    const opened = this.#opened!;
    this.#opened = this.#refused = undefined;
    opened(this);
    if (this.length === 0) this.#release();
    return true;
  }

  /** Move held bytes into the waiting target; settle the read once it is full. */
  #take(): void {
    const target = this.#target;
    if (!target) return;
    if (this.#held.length > 0) {
      const take = Math.min(this.#held.length, target.length - this.#filled);
      target.set(this.#held.subarray(0, take), this.#filled);
      this.#filled += take;
      this.#held = this.#held.subarray(take);
    }
    if (this.#filled < target.length) return;
    const done = this.#done!;
    this.#target = this.#done = undefined;
    if (this.#received - this.#held.length === this.length) this.#release();
    done.resolve();
  }

  /** Every byte is delivered: the connection has nothing more to give. */
  #release(): void {
    this.#socket.destroy();
    this.#finish();
  }

  /**
   * Keep an error answer's body until it is all in (or long enough, or the node has
   * closed), then fail with it.
   */
  #errorBody(closed = false): boolean {
    if (!closed && this.#held.length < this.length) return true;
    const body = this.#held.subarray(0, this.length);
    const text = (this.#chunked ? unchunk(body) : body).toString("utf8");
    this.#fail(nodeError(this.#base, this.#what, this.#status, text));
    return false;
  }

  #closed(): void {
    if (this.#phase === "error") this.#errorBody(true);
    else if (this.#phase === "head" || this.#received < this.length) {
      this.#fail(new DstoreError("NodeRequestError", `${this.#what} at ${this.#base} ended early`));
    }
    this.#finish();
  }

  #idle(): void {
    // Only a read (or the head) waits on the node; a caller slow to ask is not its fault.
    if (this.#target === undefined && this.#opened === undefined) return;
    // An error answer that neither ends nor closes: report it with what came of it.
    if (this.#phase === "error") {
      this.#errorBody(true);
      return;
    }
    this.#fail(
      new DstoreError(
        "NodeRequestError",
        `${this.#what} at ${this.#base} failed (no bytes for ${this.#idleTimeout} ms)`,
      ),
    );
  }

  #protocolError(why: string): DstoreError {
    return new DstoreError("NodeRequestError", `${this.#what} at ${this.#base} failed (${why})`);
  }

  #fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    this.#socket.destroy();
    this.#finish();
    const refused = this.#refused;
    const done = this.#done;
    this.#opened = this.#refused = this.#target = this.#done = undefined;
    refused?.(error);
    done?.reject(error);
  }

  #finish(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/** The data of a chunked body (as much of it as is there). */
function unchunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const eol = raw.indexOf("\r\n", at);
    const size = eol < 0 ? 0 : Number.parseInt(raw.toString("latin1", at, eol), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
