import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { copyInto, freeBuffer } from "../data-path/buffer-memory.ts";
import { DstoreError } from "../errors.ts";
import { TAG_SIZE } from "../protocol/layout.ts";

/** Bytes of a file key. */
export const FILE_KEY_SIZE = 32;

const NONCE_SIZE = 12;
const SLICE = 64 * 1024;
const HKDF_INFO = Buffer.from("dstore/v1/segment-key");

/**
 * AES-256-GCM over a file's segments in the STREAM construction (as in age): the nonce is
 * an 11-byte big-endian segment counter and a last-segment flag, so reordering, dropping,
 * duplicating or truncating segments fails authentication. The segment key is derived with
 * HKDF-SHA256 from the file key, salted with the file id.
 */
export class SegmentCipher {
  readonly #key: Buffer;

  /**
   * @param fileKey The file's random 32-byte key.
   * @param fileId The file id (32 bytes), so one key never serves two files alike.
   */
  constructor(fileKey: Uint8Array, fileId: Uint8Array) {
    if (fileKey.length !== FILE_KEY_SIZE) {
      throw new DstoreError("InvalidArgument", `a file key has ${FILE_KEY_SIZE} bytes`);
    }
    this.#key = Buffer.from(hkdfSync("sha256", fileKey, fileId, HKDF_INFO, 32));
  }

  /**
   * Seal segment `index` into `out` (plaintext length + 16 bytes), returning the bytes
   * written. `out` may be the very buffer `plain` sits in (sealing in place): each slice
   * is read before its ciphertext is written over it.
   */
  sealInto(plain: Uint8Array, index: number, last: boolean, out: Buffer): number {
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonceOf(index, last));
    // In slices: the cipher returns a fresh buffer per call, released as soon as copied.
    let written = 0;
    for (let at = 0; at < plain.length; at += SLICE) {
      written += moveInto(cipher.update(plain.subarray(at, at + SLICE)), out, written);
    }
    written += moveInto(cipher.final(), out, written);
    written += cipher.getAuthTag().copy(out, written);
    return written;
  }

  /** Seal segment `index`; returns ciphertext || tag. */
  seal(plain: Uint8Array, index: number, last: boolean): Buffer {
    const out = Buffer.allocUnsafe(plain.length + TAG_SIZE);
    this.sealInto(plain, index, last, out);
    return out;
  }

  /** Open segment `index` (ciphertext || tag); throws `DecryptionError` if it was altered,
   * moved, or is not (or is falsely claimed to be) the last segment. */
  open(sealed: Uint8Array, index: number, last: boolean): Buffer {
    const out = Buffer.allocUnsafe(Math.max(0, sealed.length - TAG_SIZE));
    return out.subarray(0, this.openInto(sealed, index, last, out));
  }

  /**
   * Open segment `index` into `out` (at least the plaintext length), returning the bytes
   * written. A failed open zeroes what it wrote, so no unverified plaintext stays in
   * `out`. `out` may start where `sealed` does, or before it in the same memory (opening
   * in place: each slice is read before its plaintext is written, at or left of where it
   * was; a failed open then leaves zeros over part of the ciphertext). Otherwise `out`
   * must not overlap `sealed`.
   */
  openInto(sealed: Uint8Array, index: number, last: boolean, out: Buffer): number {
    if (sealed.length < TAG_SIZE) {
      throw new DstoreError("DecryptionError", `segment ${index} is shorter than its tag`);
    }
    const decipher = createDecipheriv("aes-256-gcm", this.#key, nonceOf(index, last));
    const body = sealed.subarray(0, sealed.length - TAG_SIZE);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    let written = 0;
    try {
      for (let at = 0; at < body.length; at += SLICE) {
        written += moveInto(decipher.update(body.subarray(at, at + SLICE)), out, written);
      }
      written += moveInto(decipher.final(), out, written);
      return written;
    } catch (cause) {
      out.fill(0, 0, written);
      throw new DstoreError("DecryptionError", `segment ${index} failed authentication`, { cause });
    }
  }
}

/**
 * Copy a cipher's output into `out` at `at` and free its memory at once (by detaching
 * it) when the output owns it alone. Left to the garbage collector, the 4 MiB a segment
 * leaves behind piled up to ~50 MiB per codec worker before a full collection came.
 */
function moveInto(chunk: Buffer, out: Buffer, at: number): number {
  const length = chunk.length;
  copyInto(out, chunk, at);
  freeBuffer(chunk);
  return length;
}

function nonceOf(index: number, last: boolean): Buffer {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad segment index ${index}`);
  const nonce = Buffer.alloc(NONCE_SIZE);
  nonce.writeUIntBE(index, NONCE_SIZE - 1 - 6, 6);
  nonce[NONCE_SIZE - 1] = last ? 1 : 0;
  return nonce;
}
