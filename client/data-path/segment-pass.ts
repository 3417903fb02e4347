import type { CodecPool, PieceRoots } from "./codec-pool.ts";
import type { SegmentSource } from "./segment-source.ts";

/** A segment read into a slot of the ring and coded there, with its pieces' roots. */
interface Coded {
  slot: number;
  roots: PieceRoots | undefined;
}

/**
 * One pass over a file's segments: each read into a slot of the pool's ring, sealed and
 * coded there (on a worker, or on the calling thread for a pool without workers), enough
 * of them in flight to keep the workers busy. The first segments are read and coded from
 * the moment the pass is made, so a put that makes it before it knows its nodes codes
 * while the chain is still being read; {@link forEach} checks the source again (a file
 * changed meanwhile fails the pass) and hands the coded slots out in order.
 *
 * @example
 * const pass = new SegmentPass(source, pool, true);
 * const nodes = await listing; // meanwhile the first segments are coded
 * await pass.forEach(signal, (slot, index, roots) => send(slot, index, roots));
 */
export class SegmentPass {
  readonly #source: SegmentSource;
  readonly #pool: CodecPool;
  readonly #roots: boolean;
  readonly #begun: Promise<void>;
  readonly #inflight: Promise<Coded>[] = [];
  /** The next segment to read and code. */
  #next = 0;
  #used = false;

  /** Start the pass; with `roots`, each piece on the leaf grid comes with its root. */
  constructor(source: SegmentSource, pool: CodecPool, roots: boolean) {
    this.#source = source;
    this.#pool = pool;
    this.#roots = roots;
    this.#begun = source.begin();
    // Its failure reaches the caller through the first segment.
    this.#begun.catch(() => {});
    this.#fill();
  }

  /**
   * Hand each coded segment to `handle` in order; `handle` must release its slot (at once,
   * or when the slot's bytes have been sent). A pass is gone through once; on a failure
   * (of the source, of `handle`, or an abort) the slots of segments coded ahead are given
   * back before this rejects.
   */
  async forEach(
    signal: AbortSignal | undefined,
    handle: (slot: number, index: number, roots: PieceRoots | undefined) => void | Promise<void>,
  ): Promise<void> {
    if (this.#used) throw new Error("a segment pass is gone through once");
    this.#used = true;
    try {
      // Checked again: a file changed since the pass was made (while a put listed its
      // nodes, say) fails here, as it did when a pass began only now, rather than going
      // out with its first segments read before the change.
      await this.#source.begin();
      for (let index = 0; index < this.#source.layout.segments; index++) {
        signal?.throwIfAborted();
        const { slot, roots } = await this.#inflight.shift()!;
        this.#fill();
        await handle(slot, index, roots);
      }
    } finally {
      await this.cancel();
    }
  }

  /**
   * Wait for the segments still being read or coded and give their slots back; the pass
   * is then done.
   */
  async cancel(): Promise<void> {
    this.#used = true;
    for (const outcome of await Promise.allSettled(this.#inflight.splice(0))) {
      if (outcome.status === "fulfilled") this.#pool.ring.release(outcome.value.slot);
    }
  }

  /** Read and code the next segments, up to the pool's depth in flight. */
  #fill(): void {
    const segments = this.#source.layout.segments;
    while (this.#next < segments && this.#inflight.length < this.#pool.depth) {
      const coded = this.#code(this.#next++);
      // Awaited in turn by forEach (or by cancel); a failure meanwhile must not go unhandled.
      coded.catch(() => {});
      this.#inflight.push(coded);
    }
  }

  async #code(index: number): Promise<Coded> {
    await this.#begun;
    const ring = this.#pool.ring;
    const source = this.#source;
    const slot = await ring.acquire();
    try {
      await source.readInto(index, ring.segment(slot, source.layout.cipherLength(index)));
      return { slot, roots: await this.#pool.encode(index, slot, source.sealed, this.#roots) };
    } catch (error) {
      ring.release(slot);
      throw error;
    }
  }
}
