import { Socket, type SocketConstructorOpts } from "node:net";
import type { FileWriter } from "../client/data-path/file-writer.ts";
import { UPLOAD_PROTOCOL } from "../client/protocol/upload-upgrade.ts";
import { NodeServiceError } from "./errors.ts";
import { jsonResponse } from "./http-errors.ts";
import type { PlacedBody } from "./shard-store.ts";

/** Where an upload's bytes go: a FileWriter, or anything that gives room the same way. */
export type BlockSink = Pick<FileWriter, "room" | "filledRoom" | "push">;

/** Where reads land that have no room of a writer to go to (the root's line, mostly). */
const SCRATCH_SIZE = 64 * 1024;
/** Most ms an answered connection waits for the client to close its side. */
const LINGER = 10_000;

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Who takes the bytes that come in: a body's writer, or the line after the body. */
type Reader =
  | { kind: "body"; writer: BlockSink; remaining: number; done: Settle<void> }
  | {
      kind: "line";
      limit: number;
      parts: Buffer[];
      length: number;
      done: Settle<string | undefined>;
    };

/**
 * The connection of an upload after its HTTP upgrade (see `client/protocol/upload-upgrade.ts`):
 * the shard's bytes, read by the kernel straight into the blocks the store writes to disk
 * from, then a line, then one answer.
 *
 * node:http hands a connection over on `upgrade` as a `net.Socket` that reads into a fresh
 * 64 KiB buffer per read; only a socket made with `onread` reads into memory of ours, and
 * Node makes those only for connections it opens. So the connection's handle is moved into
 * such a socket (`net.Socket`'s own way of wrapping an accepted handle); where a runtime
 * does not expose it (`direct` false) the bytes are copied from the plain socket's reads.
 * Measured on this machine, 1 GiB over loopback cost the receiving process ~0.6 CPU-s as
 * node:http's request body and ~0.2 read in place (bench/README.md).
 */
export class UploadSocket implements PlacedBody {
  /** The connection (a new socket around the upgraded one's handle, when `direct`). */
  readonly socket: Socket;
  /** Whether the kernel reads into the writer's blocks (else every byte is copied once). */
  readonly direct: boolean;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
  /** Whether the read buffer last handed to the socket was the scratch. */
  #inScratch = true;
  /** Bytes that came in with no reader for them yet. */
  #held: Buffer = Buffer.alloc(0);
  #reader: Reader | undefined;
  /** A writer's copy the socket waits for, paused. */
  #copying = false;
  /** Answered: whatever comes in is dropped until the client closes. */
  #draining = false;
  #ended = false;
  #failure: unknown;

  /** Take over `socket`, given on `upgrade` with `head` (bytes after the request's head). */
  constructor(socket: Socket, head: Buffer) {
    // The client sends nothing before its 101, but whatever did come is kept.
    const early = socket.readableLength > 0 ? (socket.read() as Buffer) : null;
    this.#held = Buffer.concat(early ? [head, early] : [head]);
    const handle = (socket as unknown as { _handle?: object | null })._handle;
    if (handle && typeof (handle as { useUserBuffer?: unknown }).useUserBuffer === "function") {
      socket.pause();
      const options = {
        handle,
        allowHalfOpen: true,
        onread: {
          buffer: () => this.#nextBuffer(),
          callback: (length: number) => this.#onRead(length),
        },
      } as SocketConstructorOpts;
      this.socket = new Socket(options);
      (socket as unknown as { _handle: object | null })._handle = null;
      this.direct = true;
      // The old socket still counts as the server's connection: it goes when this one does.
      this.socket.once("close", () => socket.destroy());
    } else {
      this.socket = socket;
      this.direct = false;
      socket.on("data", (chunk: Buffer) => {
        if (!this.#take(chunk, false)) socket.pause();
      });
    }
    this.socket.pause();
    this.socket.on("end", () => {
      this.#ended = true;
      if (this.#draining) this.#closeSoon();
      else this.#endReader();
    });
    this.socket.on("error", (error) => this.#fail(error));
    this.socket.on("close", () =>
      this.#fail(new NodeServiceError("RequestAborted", "the client closed the connection")),
    );
  }

  /** Place the next `size` bytes in `writer`'s blocks; rejects if the connection fails or ends first. */
  fill(writer: BlockSink, size: number): Promise<void> {
    return this.#read<void>((done) => ({ kind: "body", writer, remaining: size, done }));
  }

  /** The line that comes next, without its line break; undefined if the connection ends first. */
  line(limit: number): Promise<string | undefined> {
    return this.#read<string | undefined>((done) => ({
      kind: "line",
      limit,
      parts: [],
      length: 0,
      done,
    }));
  }

  /** Say yes to the upgrade: the body may come. */
  accept(): void {
    this.socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${UPLOAD_PROTOCOL}\r\n\r\n`,
    );
  }

  /**
   * Answer with `status` and `body` as JSON, as an HTTP/1.1 response, and close: the
   * node's side at once, the connection once the client has closed its side too (as it
   * does on the answer) or {@link LINGER} ms have passed. Until then what the client still
   * sends (the rest of a body refused midway) is read and dropped: closed on unread bytes,
   * the connection would be reset, and the answer could be lost with it.
   */
  answer(status: number, body: unknown): void {
    if (this.socket.destroyed || !this.socket.writable) {
      this.socket.destroy();
      return;
    }
    this.socket.end(jsonResponse(status, body));
    // Reads go to the scratch from here on (no reader has room to give), unless a read
    // into a writer's block might still be set up: then it is closed without lingering.
    const safe = this.#inScratch;
    this.#fail(new Error("the upload has been answered"));
    this.#draining = true;
    if (this.#ended || !safe) this.#closeSoon();
    else {
      const linger = setTimeout(() => this.socket.destroy(), LINGER);
      this.socket.once("close", () => clearTimeout(linger));
      this.socket.resume();
    }
  }

  /** Destroy the connection once what it was given to send has gone out. */
  #closeSoon(): void {
    if (this.socket.writableFinished) this.socket.destroy();
    else this.socket.once("finish", () => this.socket.destroy());
  }

  /** Drop the connection. */
  destroy(): void {
    this.socket.destroy();
  }

  #read<T>(start: (done: Settle<T>) => Reader): Promise<T> {
    if (this.#reader) return Promise.reject(new Error("UploadSocket: one read at a time"));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const reader = start({ resolve, reject });
      this.#reader = reader;
      if (reader.kind === "body" && reader.remaining === 0) return this.#finishReader();
      const held = this.#held;
      this.#held = Buffer.alloc(0);
      if (held.length > 0 && !this.#take(held, false)) return;
      if (this.#ended) this.#endReader();
      else if (this.#reader) this.socket.resume();
    });
  }

  /** Where the socket reads next: room in the body's writer, else the scratch. */
  #nextBuffer(): Uint8Array {
    const reader = this.#reader;
    this.#inScratch = true;
    if (reader?.kind !== "body" || this.#copying) return this.#scratch;
    let room: Buffer | undefined;
    try {
      room = reader.writer.room();
    } catch (error) {
      this.#fail(error);
      return this.#scratch;
    }
    if (!room) return this.#scratch.subarray(0, Math.min(SCRATCH_SIZE, reader.remaining));
    this.#inScratch = false;
    return room.subarray(0, Math.min(room.length, reader.remaining));
  }

  /** `length` bytes read into the buffer {@link #nextBuffer} gave; false pauses the socket. */
  #onRead(length: number): boolean {
    const reader = this.#reader;
    if (this.#inScratch) return this.#take(this.#scratch.subarray(0, length), true);
    // A read lands in a writer's room only while its body is being read: every way out of
    // that state (finished, failed, waiting on a copy) leaves the scratch as the next buffer.
    if (reader?.kind !== "body")
      throw new Error("UploadSocket: a read into a writer's room with no body reader");
    try {
      reader.writer.filledRoom(length);
    } catch (error) {
      this.#fail(error);
      return false;
    }
    reader.remaining -= length;
    if (reader.remaining > 0) return true;
    this.#finishReader();
    return false;
  }

  /**
   * Give `bytes` to the reader, holding what it does not take (copied, if they are the
   * scratch's, which the next read overwrites). Returns whether the socket may read on.
   */
  #take(bytes: Buffer, scratch: boolean): boolean {
    if (this.#draining) return true;
    const reader = this.#reader;
    let rest = bytes;
    if (reader?.kind === "body") {
      const part = bytes.subarray(0, reader.remaining);
      rest = bytes.subarray(part.length);
      reader.remaining -= part.length;
      let copied: Promise<void> | undefined;
      try {
        copied = reader.writer.push(part);
      } catch (error) {
        this.#fail(error);
        return false;
      }
      if (copied) {
        this.#copying = true;
        copied.then(
          () => {
            this.#copying = false;
            if (this.#reader !== reader) return;
            if (reader.remaining === 0) this.#finishReader();
            else if (this.#ended) this.#endReader();
            else this.socket.resume();
          },
          (error: unknown) => {
            this.#copying = false;
            this.#fail(error);
          },
        );
      } else if (reader.remaining === 0) this.#finishReader();
    } else if (reader?.kind === "line") {
      const end = bytes.indexOf(0x0a);
      const part = end === -1 ? bytes : bytes.subarray(0, end + 1);
      rest = bytes.subarray(part.length);
      reader.parts.push(Buffer.from(part));
      reader.length += part.length;
      if (reader.length > reader.limit) {
        this.#fail(new NodeServiceError("InvalidRequest", "the line after the body is too long"));
        return false;
      }
      if (end !== -1) this.#finishReader();
    }
    if (rest.length > 0)
      this.#held = Buffer.concat([this.#held, scratch ? Buffer.from(rest) : rest]);
    return this.#reader === reader && reader !== undefined && !this.#copying;
  }

  #finishReader(): void {
    const reader = this.#reader!;
    this.#reader = undefined;
    this.socket.pause();
    if (reader.kind === "body") reader.done.resolve();
    else {
      const text = Buffer.concat(reader.parts).toString("latin1");
      reader.done.resolve(text.replace(/\r?\n$/, ""));
    }
  }

  /** The client ended its side: a body cut short fails, a missing line is undefined. */
  #endReader(): void {
    const reader = this.#reader;
    if (!reader || this.#copying) return;
    this.#reader = undefined;
    if (reader.kind === "line") reader.done.resolve(undefined);
    else
      reader.done.reject(
        new NodeServiceError(
          "SizeMismatch",
          `the connection ended ${reader.remaining} bytes before the end of the shard`,
        ),
      );
  }

  /**
   * Fail the read in progress and every later one. The socket stops reading before the
   * reader hears of it, and never reads again: no read may land in a writer's memory once
   * its blocks are given back. What is left to do is to answer, or drop the connection.
   */
  #fail(error: unknown): void {
    this.#failure ??= error;
    const reader = this.#reader;
    this.#reader = undefined;
    this.socket.pause();
    reader?.done.reject(this.#failure);
  }
}
