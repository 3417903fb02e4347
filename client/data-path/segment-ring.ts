import type { FileLayout } from "../protocol/layout.ts";
import { TAG_SIZE } from "../protocol/layout.ts";

/** Where things sit inside one slot of a {@link SegmentRing}. */
export interface SlotLayout {
  /** Bytes per slot. */
  slotSize: number;
  /** Bytes per piece region (a full segment's piece size). */
  pieceSize: number;
  /** Pieces 0..k+m-1 start at `i * pieceSize`; the data pieces are contiguous, then parity. */
  pieces: number;
  /** Offset of the segment region (plaintext, or a sealed segment). */
  segmentOffset: number;
}

/** The layout of a slot for a file: its k + m pieces, then room for one sealed segment. */
export function slotLayoutOf(layout: FileLayout): SlotLayout {
  const pieceSize = layout.fullPieceSize;
  const segmentOffset = layout.shards * pieceSize;
  const segmentRoom = Math.ceil((layout.segmentSize + TAG_SIZE) / 64) * 64;
  return { slotSize: segmentOffset + segmentRoom, pieceSize, pieces: layout.shards, segmentOffset };
}

/**
 * A fixed set of segment slots in memory shared with the codec workers. Segments flow
 * through it without a buffer being allocated or copied between threads, and the memory
 * a transfer holds is bounded by the ring, whatever the file's size.
 */
export class SegmentRing {
  readonly memory: SharedArrayBuffer;
  readonly layout: SlotLayout;
  readonly #free: number[];
  readonly #waiting: ((slot: number) => void)[] = [];

  constructor(layout: SlotLayout, slots: number) {
    this.layout = layout;
    this.memory = new SharedArrayBuffer(layout.slotSize * slots);
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
    return Buffer.from(
      this.memory,
      slot * this.layout.slotSize + index * this.layout.pieceSize,
      length,
    );
  }

  /** The segment region of a slot, `length` bytes. */
  segment(slot: number, length: number): Buffer {
    return Buffer.from(
      this.memory,
      slot * this.layout.slotSize + this.layout.segmentOffset,
      length,
    );
  }
}
