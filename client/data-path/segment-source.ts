import { randomBytes } from "node:crypto";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SegmentCipher } from "../crypto/segment-cipher.ts";
import { DstoreError } from "../errors.ts";
import { FileLayout, TAG_SIZE } from "../protocol/layout.ts";
import { writeAll } from "./write-all.ts";

/**
 * A file's segments by index, readable in any order and more than once: an upload reads
 * them once, and again to send a failed node's shard to another.
 */
export interface SegmentSource {
  readonly layout: FileLayout;
  /** Whether segments come sealed already (a stream's spool) or as plaintext. */
  readonly sealed: boolean;
  /**
   * Read segment `index` into the start of `target` (room for a sealed segment):
   * `plainLength(index)` bytes of plaintext, or `cipherLength(index)` sealed bytes.
   */
  readInto(index: number, target: Buffer): Promise<void>;
  /** Start a pass: fails if the file changed since it was opened. */
  begin(): Promise<void>;
  /** Release what the source holds (a spool file is deleted). */
  close(): Promise<void>;
}

/** How to cut a file. */
export interface SegmentOptions {
  segmentSize: number;
  k: number;
  m: number;
  /** Seals a stream's segments into the spool (plaintext never touches the disk). */
  cipher: SegmentCipher;
  /** Folder for the encrypted spool of a stream source (default: the OS temp folder). */
  spoolDir?: string;
}

/**
 * The segments of a file path (read with positioned reads on every pass) or of a stream
 * (sealed once into an encrypted spool file: a failed node's shard may have to be sent
 * again, and a stream cannot be read twice).
 */
export async function openSegmentSource(
  input: string | AsyncIterable<Uint8Array>,
  options: SegmentOptions,
): Promise<SegmentSource> {
  return typeof input === "string" ? fileSource(input, options) : spoolSource(input, options);
}

async function fileSource(path: string, o: SegmentOptions): Promise<SegmentSource> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new DstoreError("FileNotFound", `cannot read ${path}`, { cause });
  }
  if (!info.isFile()) throw new DstoreError("InvalidArgument", `${path} is not a regular file`);
  const layout = new FileLayout({ size: info.size, segmentSize: o.segmentSize, k: o.k, m: o.m });
  const handle = await open(path, "r");
  return {
    layout,
    sealed: false,
    readInto: (index, target) =>
      readExactly(handle, target, layout.plainLength(index), index * o.segmentSize, path),
    async begin() {
      const now = await handle.stat();
      if (now.size !== info.size || now.mtimeMs !== info.mtimeMs) {
        throw new DstoreError("InvalidArgument", `${path} changed while it was being stored`);
      }
    },
    close: () => handle.close(),
  };
}

async function readExactly(
  handle: FileHandle,
  target: Buffer,
  length: number,
  position: number,
  path: string,
): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(target, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new DstoreError("InvalidArgument", `${path} shrank while it was being stored`);
    }
    filled += bytesRead;
  }
}

async function spoolSource(
  input: AsyncIterable<Uint8Array>,
  o: SegmentOptions,
): Promise<SegmentSource> {
  const spool = join(o.spoolDir ?? tmpdir(), `dstore-spool-${randomBytes(8).toString("hex")}`);
  const out = await open(spool, "wx+", 0o600);
  let size = 0;
  let index = 0;
  try {
    let pending: Buffer | undefined;
    let current = Buffer.allocUnsafe(o.segmentSize);
    let filled = 0;
    const flush = async (segment: Buffer, last: boolean) => {
      await writeAll(out, o.cipher.seal(segment, index++, last));
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
  } catch (error) {
    await out.close().catch(() => {});
    await rm(spool, { force: true });
    throw error;
  }
  const layout = new FileLayout({ size, segmentSize: o.segmentSize, k: o.k, m: o.m });
  const stride = o.segmentSize + TAG_SIZE;
  return {
    layout,
    sealed: true,
    readInto: (i, target) => readExactly(out, target, layout.cipherLength(i), i * stride, spool),
    async begin() {},
    async close() {
      await out.close().catch(() => {});
      await rm(spool, { force: true });
    },
  };
}
