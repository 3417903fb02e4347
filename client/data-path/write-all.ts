import type { FileHandle } from "node:fs/promises";

/**
 * Write all of `bytes` at the file's current position. A write may take fewer bytes than
 * asked without an error (a disk filling up does that, and only the next write fails):
 * the rest is written in turn, and a write that takes nothing fails.
 */
export async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, at, bytes.length - at);
    if (bytesWritten === 0) throw new Error("the disk took no more bytes");
    at += bytesWritten;
  }
}
