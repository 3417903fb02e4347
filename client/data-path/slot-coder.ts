import { SegmentCipher } from "../crypto/segment-cipher.ts";
import { encodeParity, reconstructData } from "../erasure/reed-solomon.ts";
import { isDstoreError } from "../errors.ts";
import { FileLayout } from "../protocol/layout.ts";
import { alignedSubtreeRoot } from "../protocol/merkle.ts";
import type {
  CodecRequest,
  CodecResponse,
  CodecWorkerData,
  DecodeRequest,
  EncodeRequest,
} from "./codec-protocol.ts";

/**
 * The CPU work of a file's segments in the slots of a shared ring: seal and erasure-code
 * (with the Merkle subtree root of every aligned piece), or rebuild and open. A codec
 * worker runs one; a pool for a small file runs one on the calling thread, which costs
 * less than starting a worker.
 */
export class SlotCoder {
  readonly #ring: SharedArrayBuffer;
  readonly #cipher: SegmentCipher;
  readonly #layout: FileLayout;
  readonly #slotSize: number;
  readonly #pieceSize: number;
  readonly #head: number;

  constructor(file: CodecWorkerData) {
    this.#ring = file.ring;
    this.#cipher = new SegmentCipher(Buffer.from(file.fileKey), Buffer.from(file.fileId));
    this.#layout = new FileLayout(file.layout);
    ({ slotSize: this.#slotSize, pieceSize: this.#pieceSize, head: this.#head } = file.slots);
  }

  /** Do `request`; a failure comes back as an answer, never as a rejection. */
  async run(request: CodecRequest): Promise<CodecResponse> {
    try {
      return request.op === "encode" ? await this.#encode(request) : await this.#decode(request);
    } catch (error) {
      return {
        id: request.id,
        error: { name: (error as Error).name, message: (error as Error).message },
      };
    }
  }

  /** Bytes of a slot from `offset`, counted from the slot's start (head included). */
  #region(slot: number, offset: number, length: number): Buffer {
    return Buffer.from(this.#ring, slot * this.#slotSize + offset, length);
  }

  /** Bytes of a slot's piece area from `offset`. */
  #pieces(slot: number, offset: number, length: number): Buffer {
    return this.#region(slot, this.#head + offset, length);
  }

  /**
   * The data and parity areas of segment `index` in `slot`: the slot itself for full-size
   * pieces, else compact copies (a short last segment), returned to the slot after.
   */
  #areas(index: number, slot: number) {
    const layout = this.#layout;
    const size = layout.pieceSize(index);
    if (size === this.#pieceSize) {
      return {
        size,
        data: this.#pieces(slot, 0, layout.k * size),
        parity: this.#pieces(slot, layout.k * size, layout.m * size),
        compact: false,
      };
    }
    return {
      size,
      data: Buffer.alloc(layout.k * size),
      parity: Buffer.alloc(layout.m * size),
      compact: true,
    };
  }

  #pieceOf(data: Buffer, parity: Buffer, size: number, i: number): Buffer {
    const { k } = this.#layout;
    return i < k
      ? data.subarray(i * size, (i + 1) * size)
      : parity.subarray((i - k) * size, (i - k + 1) * size);
  }

  async #encode(request: EncodeRequest): Promise<CodecResponse> {
    const { index, slot } = request;
    const layout = this.#layout;
    const { size, data, parity, compact } = this.#areas(index, slot);
    const cipherLength = layout.cipherLength(index);
    if (request.sealed) {
      if (compact) data.set(this.#pieces(slot, 0, cipherLength));
    } else {
      // The plaintext sits at the start of the pieces; seal it in place (or into the copy).
      const plain = this.#pieces(slot, 0, layout.plainLength(index));
      this.#cipher.sealInto(plain, index, layout.isLast(index), data);
    }
    data.fill(0, cipherLength);
    await encodeParity(layout.k, layout.m, data, parity);
    const coded = Array.from({ length: layout.shards }, (_, i) =>
      this.#pieceOf(data, parity, size, i),
    );
    if (compact) {
      for (const [i, piece] of coded.entries())
        this.#pieces(slot, i * this.#pieceSize, size).set(piece);
    }
    if (!request.roots) return { id: request.id };
    return {
      id: request.id,
      roots: coded.map((piece) => {
        const aligned = alignedSubtreeRoot(piece);
        return aligned ? { root: new Uint8Array(aligned.root), height: aligned.height } : null;
      }),
    };
  }

  async #decode(request: DecodeRequest): Promise<CodecResponse> {
    const { index, slot, present, shift } = request;
    const layout = this.#layout;
    const { size, data, parity, compact } = this.#areas(index, slot);
    if (compact) {
      for (let i = 0; i < layout.shards; i++) {
        if (present[i])
          this.#pieceOf(data, parity, size, i).set(this.#pieces(slot, i * this.#pieceSize, size));
      }
    }
    try {
      await reconstructData(layout.k, layout.m, data, parity, present);
      // Opened in place, `head - shift` bytes to the left of the sealed data pieces (for a
      // short last segment, from the compact copy): the plaintext lands at `shift` in the
      // slot. A failed open leaves zeros there; the caller fetches the pieces again.
      const sealed = data.subarray(0, layout.cipherLength(index));
      const out = this.#region(slot, shift, layout.plainLength(index));
      this.#cipher.openInto(sealed, index, layout.isLast(index), out);
      return { id: request.id, opened: true };
    } catch (error) {
      if (isDstoreError(error, "DecryptionError")) return { id: request.id, opened: false };
      throw error;
    }
  }
}
