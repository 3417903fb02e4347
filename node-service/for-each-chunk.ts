import { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { freeBuffer } from "../client/data-path/buffer-memory.ts";

/**
 * Give every chunk of `body` to `take`, in order, until the body ends. A stream (a node's
 * request) is read by its "data" events and paused only while `take` waits on its promise:
 * an async iterator would cost a promise and a turn of the microtask queue for each of
 * node:http's 64 KiB chunks. A request's chunks are freed once taken (node:http gives each
 * a buffer of its own; see {@link freeBuffer}). If `take` or the body fails this rejects at
 * once, and the rest of the body is read and dropped, as after leaving a `for await` over a
 * request: its connection stays up for the error's answer.
 */
export function forEachChunk(
  body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  take: (chunk: Uint8Array) => Promise<void> | undefined,
): Promise<void> {
  if (!(body instanceof Readable)) {
    return (async () => {
      for await (const chunk of body as AsyncIterable<Uint8Array>) await take(chunk);
    })();
  }
  const done = body instanceof IncomingMessage ? freeBuffer : () => {};
  return new Promise<void>((resolve, reject) => {
    let waiting: Promise<void> | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      body.off("data", onData);
      resolve();
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      body.off("data", onData);
      body.resume();
      reject(error ?? new Error("reading the body failed"));
    };
    const onData = (chunk: Buffer) => {
      try {
        const wait = take(chunk);
        if (!wait) return done(chunk);
        body.pause();
        waiting = wait
          .then(() => {
            done(chunk);
            waiting = undefined;
            if (!settled) body.resume();
          })
          .catch(fail);
      } catch (error) {
        fail(error);
      }
    };
    body.on("data", onData);
    // A body paused before it came here flows too, as a for-await would read it.
    body.resume();
    finished(body)
      .then(() => waiting)
      .then(finish, fail);
  });
}
