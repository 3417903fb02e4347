import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileWriter } from "../../client/data-path/file-writer.ts";
import { UploadSocket } from "../../node-service/upload-socket.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";

const MiB = 1024 * 1024;

/** What the server made of one upgraded connection. */
interface Served {
  direct: boolean;
  line: string | undefined;
  error?: string;
}

describe("UploadSocket: an upgraded connection read into a FileWriter's blocks", () => {
  let server: Server;
  let port: number;
  let dir: string;
  let count = 0;

  beforeAll(async () => {
    dir = await tempDir("dstore-upload-socket-");
    server = createServer();
    // Each connection's first line names the body's length: the server takes that many
    // bytes into a new file, then a line, and answers with what it saw.
    server.on("upgrade", async (req, socket: Socket, head: Buffer) => {
      const upload = new UploadSocket(socket, head);
      const size = Number(req.headers["x-size"]);
      const path = join(dir, `file-${count++}`);
      const writer = await FileWriter.create(path, { durable: false });
      try {
        await upload.fill(writer, size);
        await writer.finish();
        const line = await upload.line(1024);
        upload.answer(201, { direct: upload.direct, line, path } satisfies Served & {
          path: string;
        });
      } catch (error) {
        await writer.abort();
        upload.answer(400, { direct: upload.direct, line: undefined, error: String(error) });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.close();
    await removeTempDirs();
  });

  /**
   * Send the upgrade request, then the body and `tail`: their first `early` bytes with the
   * request (before any 101: they reach the server as the upgrade's head), the rest in
   * pieces of `piece` bytes; with `endAfter`, only that many and the client's side ends.
   */
  function send(
    body: Buffer,
    o: { early: number; piece: number; tail: string; endAfter?: number },
  ): Promise<{ status: number; served: Served & { path?: string } }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      const head = `PUT /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\nX-Size: ${body.length}\r\n\r\n`;
      const payload = Buffer.concat([body, Buffer.from(o.tail)]).subarray(0, o.endAfter);
      socket.write(Buffer.concat([Buffer.from(head), payload.subarray(0, o.early)]));
      for (let at = o.early; at < payload.length; at += o.piece)
        socket.write(payload.subarray(at, at + o.piece));
      if (o.endAfter !== undefined) socket.end();
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({
          status: Number(text.slice(9, 12)),
          served: JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as Served,
        });
      });
    });
  }

  it("reads in place on this runtime, takes the bytes that came with the head, and the line after the body", async () => {
    const body = randomBytes(5 * MiB + 123);
    const { status, served } = await send(body, {
      early: 3000,
      piece: 777_777,
      tail: "the line\r\nmore",
    });
    expect(status).toBe(201);
    expect(served).toMatchObject({ direct: true, line: "the line" });
    expect((await readFile(served.path!)).equals(body)).toBe(true);
  });

  it("takes a body and its line that all came with the request's head", async () => {
    const body = randomBytes(64 * 1024 + 1);
    const tail = "all at once\n";
    const { status, served } = await send(body, {
      early: body.length + tail.length,
      piece: 1,
      tail,
    });
    expect(status).toBe(201);
    expect(served.line).toBe("all at once");
    expect((await readFile(served.path!)).equals(body)).toBe(true);
  });

  it("refuses a line longer than its limit", async () => {
    const body = randomBytes(1000);
    const { status, served } = await send(body, {
      early: 0,
      piece: 500,
      tail: `${"x".repeat(2000)}\n`,
    });
    expect(status).toBe(400);
    expect(served.error).toMatch(/too long/);
  });

  it("fails a body cut short by the client ending its side, naming the bytes missing", async () => {
    const body = randomBytes(3 * MiB);
    const { status, served } = await send(body, {
      early: 0,
      piece: MiB,
      tail: "",
      endAfter: MiB + 10,
    });
    expect(status).toBe(400);
    expect(served.error).toMatch(/ended 2097142 bytes before the end/);
  });
});
