/** The stages a long operation reports. */
export type ProgressPhase = "transfer" | "register" | "fetch" | "decode" | "write";

/** A progress report: `done` of `total` units (bytes, or 1 of 1 for a transaction). */
export interface ProgressEvent {
  phase: ProgressPhase;
  done: number;
  total: number;
}

/** Receives progress reports; must return quickly. */
export type ProgressListener = (event: ProgressEvent) => void;
