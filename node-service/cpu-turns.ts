import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Runs CPU-heavy steps of request handling (checking and making secp256k1 signatures:
 * ~50 µs each with libsecp256k1, ~2-3 ms in JavaScript where its binding does not load)
 * one at a time, each in its own turn of the event loop.
 * Without it, 64 uploads arriving at once checked their 64 signatures back to back in
 * one turn, and again signed 64 receipts, holding the loop (and every transfer) for
 * ~100-250 ms each time; taking turns, timers and I/O run between any two of them.
 */
export class CpuTurns {
  #tail: Promise<unknown> = Promise.resolve();

  /** Run `work` after the steps queued before it, in a turn of its own. */
  run<T>(work: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(() => nextTurn()).then(work);
    this.#tail = result.catch(() => {});
    return result;
  }
}

/** The node process's queue of CPU-heavy steps. */
export const cpuTurns = new CpuTurns();
