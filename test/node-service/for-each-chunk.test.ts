import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { forEachChunk } from "../../node-service/for-each-chunk.ts";

/** A server on loopback answering each request with the status `handle` gives. */
async function serve(handle: (req: IncomingMessage) => Promise<number>): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req).then(
      (status) => res.writeHead(status, { Connection: "close" }).end(),
      () => res.writeHead(500, { Connection: "close" }).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** PUT `body` in writes of odd sizes; the status of the answer. */
function put(server: Server, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: (server.address() as AddressInfo).port, method: "PUT" },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on("error", reject);
    for (let at = 0; at < body.length; at += 12_345) req.write(body.subarray(at, at + 12_345));
    req.end();
  });
}

describe("forEachChunk", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("gives a request's chunks in order, one take at a time, and frees each once taken", async () => {
    const body = randomBytes(8 * 1024 * 1024 + 11);
    const parts: Buffer[] = [];
    const taken: Uint8Array[] = [];
    let waits = 0;
    let overlapped = false;
    let freedEarly = false;
    let pending = false;
    server = await serve(async (req) => {
      await forEachChunk(req, (chunk) => {
        if (pending) overlapped = true;
        taken.push(chunk);
        if (taken.length % 3 !== 0) {
          parts.push(Buffer.from(chunk));
          return undefined;
        }
        waits++;
        pending = true;
        return new Promise((resolve) =>
          setTimeout(() => {
            // Still whole until its take is done with it.
            if (chunk.length === 0) freedEarly = true;
            parts.push(Buffer.from(chunk));
            pending = false;
            resolve();
          }, 1),
        );
      });
      return 201;
    });
    expect(await put(server, body)).toBe(201);
    expect(Buffer.concat(parts).equals(body)).toBe(true);
    expect({ waits: waits > 0, overlapped, freedEarly }).toEqual({
      waits: true,
      overlapped: false,
      freedEarly: false,
    });
    expect(taken.every((chunk) => chunk.length === 0)).toBe(true);
  });

  it("fails at once when take throws, and the connection stays up for the answer", async () => {
    let failed: unknown;
    let calls = 0;
    server = await serve(async (req) => {
      await forEachChunk(req, () => {
        calls++;
        throw new Error("too long");
      }).catch((error: unknown) => {
        failed = error;
      });
      return 413;
    });
    expect(await put(server, randomBytes(4 * 1024 * 1024))).toBe(413);
    expect((failed as Error).message).toBe("too long");
    expect(calls).toBe(1);
  });

  it("after a failed wait, lets the rest of the body flow to be dropped", async () => {
    let flowing: boolean | null = null;
    let failed: unknown;
    server = await serve(async (req) => {
      await forEachChunk(req, () => Promise.reject(new Error("disk full"))).catch(
        (error: unknown) => {
          failed = error;
        },
      );
      flowing = req.readableFlowing;
      return 507;
    });
    expect(await put(server, randomBytes(4 * 1024 * 1024))).toBe(507);
    expect((failed as Error).message).toBe("disk full");
    expect(flowing).toBe(true);
  });

  it("rejects when take fails without a reason, and reads a body paused before it came", async () => {
    const failing = Readable.from([Buffer.from("a"), Buffer.from("b")]);
    await expect(forEachChunk(failing, () => Promise.reject(undefined))).rejects.toThrow(
      "reading the body failed",
    );
    const paused = Readable.from([Buffer.from("x"), Buffer.from("y")]).pause();
    const seen: string[] = [];
    await forEachChunk(paused, (chunk) => {
      seen.push(Buffer.from(chunk).toString());
      return undefined;
    });
    expect(seen).toEqual(["x", "y"]);
  });

  it("leaves the chunks of other streams alone", async () => {
    const chunks = [Buffer.from("abc"), Buffer.allocUnsafeSlow(5).fill(1)];
    const seen: Uint8Array[] = [];
    await forEachChunk(Readable.from(chunks), (chunk) => {
      seen.push(chunk);
      return undefined;
    });
    expect(seen).toEqual(chunks);
    expect(chunks[1]!.length).toBe(5);
  });
});
