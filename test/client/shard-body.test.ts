import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type RequestListener } from "node:http";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { isDstoreError } from "../../client/errors.ts";
import { fetchShardBody, type ShardBody } from "../../client/shard-body.ts";
import { eventually } from "../helpers/poll.ts";

const SHARD = "ab".repeat(32);
const servers: Server[] = [];
const sockets = new Set<Socket>();

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A node:http server answering every request with `handler`. */
function httpNode(handler: RequestListener): Promise<string> {
  return listen(createHttpServer(handler) as unknown as Server);
}

/** A server that reads the request head and then lets `answer` write raw bytes. */
function rawNode(answer: (socket: Socket) => void): Promise<string> {
  return listen(
    createNetServer((socket) => {
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        if (!head.includes("\r\n\r\n")) return;
        socket.off("data", onData);
        answer(socket);
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    }),
  );
}

/** A raw node that answers with `answer` and keeps its connections open; counts them. */
async function keepingNode(answer: string): Promise<{ base: string; open: () => number }> {
  let open = 0;
  const base = await rawNode((socket) => {
    open++;
    socket.on("close", () => open--);
    socket.write(answer);
  });
  return { base, open: () => open };
}

/** Read a whole body, cut into reads of the given sizes (the last takes the rest). */
async function readAll(body: ShardBody, cuts: number[] = []): Promise<Buffer> {
  const out = Buffer.alloc(body.length);
  let at = 0;
  for (const cut of cuts) {
    const size = Math.min(cut, body.length - at);
    await body.read(out.subarray(at, at + size));
    at += size;
  }
  await body.read(out.subarray(at));
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: Error) => error,
  );
}

describe("fetchShardBody", () => {
  it("reads any body into the caller's buffers, however the node and the caller cut it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300_000 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 100_000 }), { maxLength: 6 }),
        async (size, sends, cuts) => {
          const shard = randomBytes(size);
          const base = await httpNode((_req, res) => {
            res.setHeader("content-length", size);
            let at = 0;
            for (const send of sends) {
              res.write(shard.subarray(at, at + send));
              at = Math.min(size, at + send);
            }
            res.end(shard.subarray(at));
          });
          const body = await fetchShardBody(base, SHARD);
          expect(body.length).toBe(size);
          expect((await readAll(body, cuts)).equals(shard)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("asks for the shard under the endpoint's path, from `start` on, and takes the 206", async () => {
    const shard = randomBytes(10_000);
    const seen: string[] = [];
    const base = await httpNode((req, res) => {
      seen.push(`${req.url} ${req.headers.range}`);
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
      res.writeHead(start > 0 ? 206 : 200, { "content-length": shard.length - start });
      res.end(shard.subarray(start));
    });
    const body = await fetchShardBody(`${base}/node-7/`, SHARD, 4321);
    expect((await readAll(body)).equals(shard.subarray(4321))).toBe(true);
    expect(seen).toEqual([`/node-7/v1/shards/${SHARD} bytes=4321-`]);
  });

  it("fails with the node's error name and message when the node refuses", async () => {
    const base = await httpNode((_req, res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "ShardNotFound", message: "no such shard" }));
    });
    const error = await rejection(fetchShardBody(base, SHARD));
    expect(isDstoreError(error, "NodeRequestError")).toBe(true);
    expect(error).toMatchObject({ status: 404, errorName: "ShardNotFound" });
    expect(error.message).toContain("ShardNotFound: no such shard");
  });

  it("refuses a shard sent without a Content-Length", async () => {
    const base = await httpNode((_req, res) => {
      res.write("chunked, ");
      res.end("since no length was given");
    });
    const error = await rejection(fetchShardBody(base, SHARD));
    expect(isDstoreError(error, "NodeRequestError")).toBe(true);
    expect(error.message).toContain("without a Content-Length");
  });

  it("takes a head that comes in pieces, with body bytes in the head's last piece", async () => {
    const base = await rawNode((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Le");
      setImmediate(() => {
        socket.write("ngth: 5\r\nX-Other: 1\r\n\r\nab");
        setImmediate(() => socket.end("cde"));
      });
    });
    const body = await fetchShardBody(base, SHARD);
    expect((await readAll(body, [1])).toString()).toBe("abcde");
  });

  it("takes headers a proxy repeats, but not two different lengths", async () => {
    const repeated = await rawNode((socket) =>
      socket.end(
        "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
      ),
    );
    expect((await readAll(await fetchShardBody(repeated, SHARD))).toString()).toBe("ok");
    const conflicting = await rawNode((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"),
    );
    expect((await rejection(fetchShardBody(conflicting, SHARD))).message).toContain(
      "malformed headers",
    );
  });

  it("reports an error answer that neither ends nor closes with its status, once idle", async () => {
    const { base } = await keepingNode(
      'HTTP/1.1 503 Service Unavailable\r\n\r\n{"error":"Busy","message":"try later"}',
    );
    const error = await rejection(fetchShardBody(base, SHARD, 0, { idleTimeout: 100 }));
    expect(error).toMatchObject({ status: 503, errorName: "Busy" });
  });

  it("lets the connection go once the whole body is read, though the node keeps it", async () => {
    const { base, open } = await keepingNode("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    expect((await readAll(await fetchShardBody(base, SHARD))).toString()).toBe("abc");
    await eventually(() => open() === 0, { what: "the node to see the connection closed" });
  });

  it("fails a read when the node closes before the body is complete", async () => {
    const base = await rawNode((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
    );
    const body = await fetchShardBody(base, SHARD);
    const error = await rejection(readAll(body));
    expect(isDstoreError(error, "NodeRequestError")).toBe(true);
    expect(error.message).toContain("ended early");
  });

  it("fails a read when the node sends more than it said", async () => {
    const base = await rawNode((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n0123456789"),
    );
    const error = await rejection(fetchShardBody(base, SHARD).then((body) => readAll(body)));
    expect(error.message).toContain("more than its Content-Length");
  });

  it("refuses what is not an HTTP answer, and endpoints that are not http:", async () => {
    const base = await rawNode((socket) => socket.end("SSH-2.0-OpenSSH\r\n\r\n"));
    expect((await rejection(fetchShardBody(base, SHARD))).message).toContain(
      "not an HTTP/1.1 answer",
    );
    const https = await rejection(fetchShardBody("https://127.0.0.1:1", SHARD));
    expect(isDstoreError(https, "NodeRequestError")).toBe(true);
  });

  it("fails a waiting read once the node is silent for the idle timeout, never a caller slow to ask", async () => {
    const base = await rawNode((socket) =>
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"),
    );
    const body = await fetchShardBody(base, SHARD, 0, { idleTimeout: 100 });
    // The caller takes three idle timeouts before asking: that is not the node's fault.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const first = Buffer.alloc(5);
    await body.read(first);
    expect(first.toString()).toBe("01234");
    const error = await rejection(body.read(Buffer.alloc(5)));
    expect(error.message).toContain("no bytes for 100 ms");
  });

  it("fails a pending read and drops the connection when closed or cancelled", async () => {
    const { base, open } = await keepingNode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    const body = await fetchShardBody(base, SHARD);
    const pending = rejection(body.read(Buffer.alloc(10)));
    body.close();
    expect((await pending).message).toContain("was closed");

    const cancel = new AbortController();
    const cancelled = await fetchShardBody(base, SHARD, 0, { signal: cancel.signal });
    const waiting = rejection(cancelled.read(Buffer.alloc(10)));
    cancel.abort();
    expect((await waiting).message).toContain("was cancelled");
    await eventually(() => open() === 0, { what: "the node to see both connections closed" });
  });

  it("refuses a read past the end of the body", async () => {
    const base = await httpNode((_req, res) => {
      res.setHeader("content-length", 4);
      res.end("abcd");
    });
    const body = await fetchShardBody(base, SHARD);
    expect(await rejection(body.read(Buffer.alloc(5)))).toBeInstanceOf(RangeError);
    expect((await readAll(body)).toString()).toBe("abcd");
  });
});
