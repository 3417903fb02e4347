import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from "node:http";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { expect } from "vitest";
import type { NodeStatusReport } from "../../client/node-client.ts";
import { AUTHORIZATION_HEADER } from "../../client/protocol/authorization-header.ts";
import type { SignedReceipt } from "../../client/protocol/eip712.ts";
import { UPLOAD_PROTOCOL, UPLOAD_UPGRADE_HEADER } from "../../client/protocol/upload-upgrade.ts";
import type { ExampleShard } from "./shard-examples.ts";

/** A whole HTTP answer. */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  method?: string;
  /** Sent as is: no normalisation of `..`, `%2e` or slashes (unlike fetch). */
  path: string;
  headers?: OutgoingHttpHeaders;
  /** Bytes, or a stream sent chunked unless a content-length header is given. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Trailers after the body, which then goes chunked. */
  trailers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * One request over a fresh connection with Node's http client, which sends the path
 * byte for byte. Resolves with the whole answer, also when the server answers before it
 * has read the body (413, 401): a write error after the answer has started is ignored.
 */
export function httpRequest(base: string, o: HttpRequestOptions): Promise<HttpResult> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: hostname,
        port,
        method: o.method ?? "GET",
        path: o.path,
        // Node sends a GET's body without a length unless told; always state it for bytes.
        headers:
          o.body instanceof Uint8Array && !o.trailers
            ? { "content-length": String(o.body.length), ...o.headers }
            : o.headers,
        agent: false,
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", (error) => {
      // The server may answer and close before it has read the body; keep that answer.
      if (!answered) reject(error);
    });
    if (o.trailers) {
      if (o.body instanceof Uint8Array) req.write(o.body);
      req.addTrailers(o.trailers);
      req.end();
    } else if (o.body === undefined) req.end();
    else if (o.body instanceof Uint8Array) req.end(o.body);
    else Readable.from(o.body).pipe(req);
  });
}

/** Send `bytes` on a raw TCP connection and return everything the server answers. */
export function rawExchange(base: string, bytes: Buffer): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

/** An answer to an upload sent with an upgrade, and whether the node said 101 first. */
export interface UpgradedResult extends HttpResult {
  upgraded: boolean;
}

/** Options of {@link putShardUpgraded}. */
export interface UpgradedPutOptions {
  body?: Uint8Array;
  /** Sent after the body, with CRLF (the authorization naming a deferred root). */
  line?: string;
  /** End the client's side of the connection after the body (and line). */
  end?: boolean;
  /** Send only this many bytes of the body, then drop the connection, or `wait` for the node. */
  partial?: { bytes: number; after: "drop" | "wait" };
  /** Request path and upgrade protocol instead of the shard's and dstore's. */
  path?: string;
  protocol?: string;
}

/**
 * Store a shard the way `client/protocol/upload-upgrade.ts` describes, by hand on a raw
 * connection: the PUT with its upgrade, then (after a 101) the body and what `o` says,
 * then the node's answer, read until the node closes (status 0 if there was none).
 */
export function putShardUpgraded(
  base: string,
  shard: Pick<ExampleShard, "shardId" | "body">,
  authorization: string | undefined,
  o: UpgradedPutOptions = {},
): Promise<UpgradedResult> {
  const { hostname, port } = new URL(base);
  const body = o.body ?? shard.body;
  const head = [
    `PUT ${o.path ?? `/v1/shards/${shard.shardId}`} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    "Connection: Upgrade",
    `Upgrade: ${o.protocol ?? UPLOAD_PROTOCOL}`,
    `${UPLOAD_UPGRADE_HEADER}: ${UPLOAD_PROTOCOL}`,
    ...(authorization === undefined ? [] : [`${AUTHORIZATION_HEADER}: ${authorization}`]),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(`${head.join("\r\n")}\r\n\r\n`, "latin1"),
    );
    let received = Buffer.alloc(0);
    let upgraded = false;
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (upgraded || end === -1 || !received.subarray(0, 12).equals(Buffer.from("HTTP/1.1 101")))
        return;
      upgraded = true;
      received = received.subarray(end + 4);
      if (o.partial) {
        const after = o.partial.after;
        socket.write(body.subarray(0, o.partial.bytes), () => {
          if (after === "drop") socket.destroy();
        });
        return;
      }
      socket.write(body);
      if (o.line !== undefined) socket.write(`${o.line}\r\n`, "latin1");
      if (o.end) socket.end();
    });
    // A node that answers before it has read the whole body closes on what is still
    // coming: the write fails, the answer stands.
    let failure: Error | undefined;
    socket.on("error", (error) => {
      failure = error;
    });
    socket.once("close", () => {
      if (received.length === 0 && failure && !upgraded) {
        reject(failure);
        return;
      }
      const text = received.toString("latin1");
      const bodyAt = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, Math.max(0, bodyAt)).split("\r\n");
      const headers: IncomingHttpHeaders = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        upgraded,
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0),
        headers,
        body: bodyAt === -1 ? Buffer.alloc(0) : received.subarray(bodyAt + 4),
      });
    });
  });
}

/** The JSON body of an answer. */
export function jsonOf<T = unknown>(result: HttpResult): T {
  return JSON.parse(result.body.toString("utf8")) as T;
}

/**
 * Assert an answer is the node's error shape: `status`, JSON `{ error: name, message }`
 * and nothing else (no stack, no extra fields).
 */
export function expectError(result: HttpResult, status: number, name: string): void {
  const text = result.body.toString("utf8");
  expect({ status: result.status, body: text }).toMatchObject({ status });
  expect(result.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["error", "message"]);
  expect(body.error).toBe(name);
  expect(typeof body.message).toBe("string");
  expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|\.ts\b/);
}

/**
 * PUT a shard's bytes (or `body`) with `authorization`, content-length set unless chunked;
 * with `trailer`, the body goes chunked and ends with that authorization as its trailer.
 */
export function putShardRaw(
  base: string,
  shard: Pick<ExampleShard, "shardId" | "body">,
  authorization: string | undefined,
  o: {
    body?: Uint8Array | AsyncIterable<Uint8Array>;
    headers?: OutgoingHttpHeaders;
    trailer?: string;
  } = {},
): Promise<HttpResult> {
  const body = o.body ?? shard.body;
  const chunked = !(body instanceof Uint8Array) || o.trailer !== undefined;
  return httpRequest(base, {
    method: "PUT",
    path: `/v1/shards/${shard.shardId}`,
    headers: {
      ...(authorization === undefined ? {} : { [AUTHORIZATION_HEADER]: authorization }),
      "content-type": "application/octet-stream",
      ...(chunked ? {} : { "content-length": String(body.length) }),
      ...o.headers,
    },
    body,
    ...(o.trailer === undefined ? {} : { trailers: { [AUTHORIZATION_HEADER]: o.trailer } }),
  });
}

/** The receipt of a successful upload. */
export function receiptOf(result: HttpResult): SignedReceipt {
  expect(result.status, result.body.toString("utf8")).toBeOneOf([200, 201]);
  return jsonOf<SignedReceipt>(result);
}

/** GET a node's `/v1/status`. */
export async function statusOf(base: string): Promise<NodeStatusReport> {
  const result = await httpRequest(base, { path: "/v1/status" });
  expect(result.status).toBe(200);
  return jsonOf<NodeStatusReport>(result);
}

/** One sample of a Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse Prometheus text format into samples (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples called `name` whose labels include `labels` (0 if there are none). */
export function metricValue(
  samples: readonly MetricSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** GET `/metrics` and parse it. */
export async function metricsOf(base: string): Promise<MetricSample[]> {
  const result = await httpRequest(base, { path: "/metrics" });
  expect(result.status).toBe(200);
  return parseMetrics(result.body.toString("utf8"));
}

/**
 * `body` in `chunk`-byte pieces, waiting for `gate` before the first piece that goes past
 * byte `pause`: the bytes before it are sent (an upload in flight), the rest held back.
 */
export async function* pausedBody(
  body: Buffer,
  { pause, gate, chunk = 64 * 1024 }: { pause: number; gate: Promise<unknown>; chunk?: number },
): AsyncGenerator<Buffer> {
  let waited = false;
  for (let offset = 0; offset < body.length; offset += chunk) {
    const end = Math.min(offset + chunk, body.length);
    if (!waited && end > pause) {
      waited = true;
      await gate;
    }
    yield body.subarray(offset, end);
  }
}

/** A promise and the function that settles it: a gate a test opens when it is ready. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
