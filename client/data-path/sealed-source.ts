import { randomBytes } from "node:crypto";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SegmentCipher } from "../crypto/segment-cipher.ts";
import { DstoreError } from "../errors.ts";
import { FileLayout, TAG_SIZE } from "../protocol/layout.ts";

/**
 * A file's sealed (encrypted) segments, which can be read more than once: the upload
 * reads them once to compute shard roots and again to send the shards.
 */
export interface SealedSource {
  readonly layout: FileLayout;
  /** The sealed segments in order; each call starts a new pass. */
  segments(): AsyncIterable<Buffer>;
  /** Release what the source holds (a spool file is deleted). */
  close(): Promise<void>;
}

/** How to cut and seal a file. */
export interface SealOptions {
  cipher: SegmentCipher;
  segmentSize: number;
  k: number;
  m: number;
  /** Folder for the encrypted spool of a stream source (default: the OS temp folder). */
  spoolDir?: string;
}

/**
 * A sealed source over a file path (re-read and re-sealed on every pass) or a stream
 * (sealed once into an encrypted spool file; plaintext never touches the disk).
 */
export async function openSealedSource(
  input: string | AsyncIterable<Uint8Array>,
  options: SealOptions,
): Promise<SealedSource> {
  return typeof input === "string" ? fileSource(input, options) : spoolSource(input, options);
}

async function fileSource(path: string, o: SealOptions): Promise<SealedSource> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new DstoreError("FileNotFound", `cannot read ${path}`, { cause });
  }
  if (!info.isFile()) throw new DstoreError("InvalidArgument", `${path} is not a regular file`);
  const layout = new FileLayout({ size: info.size, segmentSize: o.segmentSize, k: o.k, m: o.m });
  return {
    layout,
    async *segments() {
      const now = await stat(path);
      if (now.size !== info.size || now.mtimeMs !== info.mtimeMs) {
        throw new DstoreError("InvalidArgument", `${path} changed while it was being stored`);
      }
      const handle = await open(path, "r");
      try {
        const read = (index: number) =>
          readExactly(handle, layout.plainLength(index), index * o.segmentSize, path);
        let next = read(0);
        for (let index = 0; index < layout.segments; index++) {
          const plain = await next;
          if (index + 1 < layout.segments) next = read(index + 1);
          yield o.cipher.seal(plain, index, layout.isLast(index));
        }
      } finally {
        await handle.close();
      }
    },
    async close() {},
  };
}

async function readExactly(
  handle: FileHandle,
  length: number,
  position: number,
  path: string,
): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0)
      throw new DstoreError("InvalidArgument", `${path} shrank while it was being stored`);
    filled += bytesRead;
  }
  return buffer;
}

async function spoolSource(
  input: AsyncIterable<Uint8Array>,
  o: SealOptions,
): Promise<SealedSource> {
  const spool = join(o.spoolDir ?? tmpdir(), `dstore-spool-${randomBytes(8).toString("hex")}`);
  const out = await open(spool, "wx", 0o600);
  let size = 0;
  let index = 0;
  try {
    let pending: Buffer | undefined;
    let current = Buffer.allocUnsafe(o.segmentSize);
    let filled = 0;
    const flush = async (segment: Buffer, last: boolean) => {
      await out.write(o.cipher.seal(segment, index++, last));
    };
    for await (const chunk of input) {
      let offset = 0;
      while (offset < chunk.length) {
        if (pending) {
          // More bytes follow, so the held segment is not the last one.
          await flush(pending, false);
          pending = undefined;
        }
        const take = Math.min(o.segmentSize - filled, chunk.length - offset);
        current.set(chunk.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        size += take;
        if (filled === o.segmentSize) {
          pending = current;
          current = Buffer.allocUnsafe(o.segmentSize);
          filled = 0;
        }
      }
    }
    await flush(pending ?? current.subarray(0, filled), true);
    await out.close();
  } catch (error) {
    await out.close().catch(() => {});
    await rm(spool, { force: true });
    throw error;
  }
  const layout = new FileLayout({ size, segmentSize: o.segmentSize, k: o.k, m: o.m });
  const stride = o.segmentSize + TAG_SIZE;
  return {
    layout,
    async *segments() {
      const handle = await open(spool, "r");
      try {
        for (let i = 0; i < layout.segments; i++) {
          yield await readExactly(handle, layout.cipherLength(i), i * stride, spool);
        }
      } finally {
        await handle.close();
      }
    },
    close: () => rm(spool, { force: true }),
  };
}
