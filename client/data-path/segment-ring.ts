import { type FileLayout, TAG_SIZE } from "../protocol/layout.ts";
import { alignUp, DIRECT_IO_ALIGNMENT, sharedWasmMemory, WASM_PAGE } from "./aligned-blocks.ts";

/** Where things sit inside one slot of a {@link SegmentRing}. */
export interface SlotLayout {
  /** Bytes per slot (a multiple of the page size). */
  slotSize: number;
  /** Bytes per piece region (a full segment's piece size). */
  pieceSize: number;
  /** Bytes before the pieces: room to put a get's plaintext where the output wants it. */
  head: number;
}

/**
 * The layout of a slot for a file: a head of one page, then its k + m pieces one after
 * the other. The segment itself (plaintext or sealed) occupies the start of the pieces,
 * where the data pieces go: a segment is sealed in place. A decoded segment's plaintext
 * is put back up to a page earlier, so that it sits at its file offset's place within a
 * page and the slot can be written to the output file (direct I/O) from where it is.
 */
export function slotLayoutOf(layout: FileLayout): SlotLayout {
  const pieceSize = layout.fullPieceSize;
  const head = DIRECT_IO_ALIGNMENT;
  return {
    // Plaintext shifted by up to a page and padded to one still fits.
    slotSize: alignUp(
      Math.max(head + layout.shards * pieceSize, head + layout.segmentSize + TAG_SIZE + head),
    ),
    pieceSize,
    head,
  };
}

/**
 * A fixed set of segment slots in memory shared with the codec workers. Segments flow
 * through it without a buffer being allocated or copied between threads, and the memory
 * a transfer holds is bounded by the ring, whatever the file's size. Every slot starts on
 * a page boundary (the memory is a WebAssembly memory's), so direct I/O can use it.
 */
export class SegmentRing {
  readonly memory: SharedArrayBuffer;
  readonly layout: SlotLayout;
  /** Slots in the ring. */
  readonly slots: number;
  readonly #free: number[];
  readonly #waiting: ((slot: number) => void)[] = [];

  constructor(layout: SlotLayout, slots: number) {
    this.layout = layout;
    this.slots = slots;
    const pages = Math.ceil((layout.slotSize * slots) / WASM_PAGE);
    this.memory = sharedWasmMemory(pages, pages).buffer;
    this.#free = Array.from({ length: slots }, (_, i) => i);
  }

  /** A free slot (waits for one). */
  acquire(): Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Give a slot back. */
  release(slot: number): void {
    const next = this.#waiting.shift();
    if (next) next(slot);
    else this.#free.push(slot);
  }

  /** Piece `index` of a slot, `length` bytes. */
  piece(slot: number, index: number, length: number): Buffer {
    const { slotSize, head, pieceSize } = this.layout;
    return Buffer.from(this.memory, slot * slotSize + head + index * pieceSize, length);
  }

  /** The segment at the start of a slot's pieces, `length` bytes. */
  segment(slot: number, length: number): Buffer {
    return this.piece(slot, 0, length);
  }

  /** A whole slot, from its (page-aligned) start. */
  slot(slot: number): Buffer {
    return Buffer.from(this.memory, slot * this.layout.slotSize, this.layout.slotSize);
  }
}
