import { type FileLayout, TAG_SIZE } from "../protocol/layout.ts";

/** Where things sit inside one slot of a {@link SegmentRing}. */
export interface SlotLayout {
  /** Bytes per slot. */
  slotSize: number;
  /** Bytes per piece region (a full segment's piece size). */
  pieceSize: number;
}

/**
 * The layout of a slot for a file: its k + m pieces one after the other. The segment
 * itself (plaintext or sealed) occupies the start of the slot, where the data pieces go:
 * a segment is sealed in place, and a decoded segment's plaintext is put back there.
 */
export function slotLayoutOf(layout: FileLayout): SlotLayout {
  const pieceSize = layout.fullPieceSize;
  return {
    slotSize: Math.max(layout.shards * pieceSize, layout.segmentSize + TAG_SIZE),
    pieceSize,
  };
}

/**
 * A fixed set of segment slots in memory shared with the codec workers. Segments flow
 * through it without a buffer being allocated or copied between threads, and the memory
 * a transfer holds is bounded by the ring, whatever the file's size.
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

  /** The segment at the start of a slot, `length` bytes. */
  segment(slot: number, length: number): Buffer {
    return Buffer.from(this.memory, slot * this.layout.slotSize, length);
  }
}
