import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DstoreError } from "../errors.ts";
import { projectModule } from "../module-paths.ts";
import type { FileLayout } from "../protocol/layout.ts";
import {
  CODEC_READY,
  type CodecRequest,
  type CodecResponse,
  type CodecWorkerData,
} from "./codec-protocol.ts";
import { SegmentRing, slotLayoutOf } from "./segment-ring.ts";
import { SlotCoder } from "./slot-coder.ts";

/** Per piece: the Merkle root of its 2^height leaves, or undefined if not on the grid. */
export type PieceRoots = ({ root: Buffer; height: number } | undefined)[];

/**
 * Workers for a pass: `DSTORE_WORKERS` when set (0: none, the work done on the calling
 * thread); else one per core, at most four, but one
 * fewer (at least one) when the main thread is busy too, moving a transfer's bytes between
 * sockets and files. On two cores a 1 GiB put or get ran as fast with one worker as with
 * two and peaked ~55 MiB lower (a worker costs ~35 MiB), while computing the shard roots
 * alone ran twice as fast with two: a put's first pass, which hashes every shard as it
 * sends them, runs one per core (upload.ts).
 */
export function defaultWorkers(mainThreadBusy = true): number {
  return (
    chosenWorkers() ?? Math.max(1, Math.min(4, availableParallelism() - (mainThreadBusy ? 1 : 0)))
  );
}

/**
 * Workers for a transfer of `size` bytes (undefined when not known up front): those
 * `DSTORE_WORKERS` asks for when set; none (the calling thread does the work) up to
 * `inlineUpTo` bytes, since a worker costs ~0.2 s of CPU to start; else
 * {@link defaultWorkers}.
 */
export function workersFor(
  size: number | undefined,
  inlineUpTo: number,
  mainThreadBusy = true,
): number {
  const inline = size !== undefined && size <= inlineUpTo;
  return chosenWorkers() ?? (inline ? 0 : defaultWorkers(mainThreadBusy));
}

/** The number of workers `DSTORE_WORKERS` asks for (0 or more), if it is set to one. */
function chosenWorkers(): number | undefined {
  const chosen = Math.floor(Number(process.env.DSTORE_WORKERS || Number.NaN));
  return chosen >= 0 ? chosen : undefined;
}

/** Most ms a worker is given to start before it is stopped anyway. */
const START_LIMIT = 10_000;

type Pending = { resolve: (response: CodecResponse) => void; reject: (error: Error) => void };

/** A codec worker thread, started before (or when) a pool takes it. */
interface Started {
  worker: Worker;
  /** Settles when the worker has loaded its modules (or has failed or exited). */
  ready: Promise<void>;
  /** Whether it stopped (failed to start, or exited) before a pool took it. */
  exited: boolean;
}

interface Entry extends Started {
  busy: number;
  retired: boolean;
}

/** Start a codec worker; it loads its code, then waits to be told its file. */
function startWorker(): Started {
  const worker = new Worker(projectModule("client/data-path/codec-worker"));
  let settle = () => {};
  const started: Started = {
    worker,
    ready: new Promise<void>((resolve) => (settle = resolve)),
    exited: false,
  };
  const onReady = (message: unknown) => {
    if (message === CODEC_READY) settle();
  };
  worker.on("message", onReady);
  void started.ready.then(() => worker.off("message", onReady));
  worker.once("error", settle);
  worker.once("exit", () => {
    started.exited = true;
    settle();
  });
  return started;
}

/**
 * Stop workers, each once it has started (stopping one mid-start can abort the
 * process), or after {@link START_LIMIT} ms if it never says it has.
 */
async function stopWorkers(workers: readonly Started[]): Promise<void> {
  await Promise.all(
    workers.map(async ({ worker, ready }) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        ready,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, START_LIMIT))),
      ]);
      clearTimeout(timer);
      await worker.terminate();
    }),
  );
}

/**
 * Codec workers started ahead of the file they will work on, so that they load their code
 * (a few hundred ms) while the chain is still being read, not after. A {@link CodecPool}
 * takes them; {@link close} stops the ones no pool took.
 *
 * @example
 * const result = await withSpareWorkers(defaultWorkers(), async (spares) => {
 *   const record = await readRecord(); // meanwhile the workers start
 *   const pool = new CodecPool(key, id, layout, { spares });
 *   // ...
 * });
 */
export class SpareWorkers {
  readonly #workers: Started[];

  constructor(count: number) {
    this.#workers = Array.from({ length: count }, startWorker);
  }

  /** A started worker that is still running, if one is left. */
  take(): Started | undefined {
    for (let next = this.#workers.shift(); next; next = this.#workers.shift()) {
      if (!next.exited) return next;
    }
    return undefined;
  }

  /** Stop the workers no pool took. */
  async close(): Promise<void> {
    await stopWorkers(this.#workers.splice(0));
  }
}

/** Run `work` with `count` workers starting meanwhile; the ones it leaves are stopped. */
export async function withSpareWorkers<T>(
  count: number,
  work: (spares: SpareWorkers) => Promise<T>,
): Promise<T> {
  const spares = new SpareWorkers(count);
  try {
    return await work(spares);
  } finally {
    await spares.close();
  }
}

/** Options of a {@link CodecPool}. */
export interface CodecPoolOptions {
  /**
   * Workers to run (default: {@link defaultWorkers}); 0 does the work on the calling
   * thread instead, for a file too small to be worth starting a worker (~0.2 s of CPU).
   */
  threads?: number;
  /** Segments the ring holds (default: one per worker, plus three). */
  slots?: number;
  /** Workers started ahead, taken before any new one is started. */
  spares?: SpareWorkers;
}

/**
 * Worker threads that do a file's CPU work (AES-GCM, Reed-Solomon, SHA-256) on segments
 * held in a {@link SegmentRing} they share with the main thread, so the main thread only
 * moves bytes between sockets, files and the ring. One pool per file.
 */
export class CodecPool {
  readonly ring: SegmentRing;
  readonly #workerData: CodecWorkerData;
  readonly #workers: Entry[] = [];
  /** The coder of a pool without workers. */
  readonly #inline: SlotCoder | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;
  #closing = false;

  readonly #spares: SpareWorkers | undefined;

  constructor(
    fileKey: Uint8Array,
    fileId: Uint8Array,
    layout: FileLayout,
    { threads, slots, spares }: CodecPoolOptions = {},
  ) {
    this.#spares = spares;
    const count = Math.max(0, threads ?? defaultWorkers());
    this.ring = new SegmentRing(slotLayoutOf(layout), slots ?? count + 3);
    this.#workerData = {
      fileKey,
      fileId,
      layout: { size: layout.size, segmentSize: layout.segmentSize, k: layout.k, m: layout.m },
      ring: this.ring.memory,
      slots: this.ring.layout,
    };
    this.#inline = count === 0 ? new SlotCoder(this.#workerData) : undefined;
    for (let i = 0; i < count; i++) this.#spawn();
  }

  /**
   * Run `threads` workers (at least one) from now on: more start at once, and the ones
   * beyond stop. Call it between passes, with no work pending. A pool without workers
   * keeps working on its thread.
   */
  async resize(threads: number): Promise<void> {
    if (this.#inline) return;
    if (this.#workers.some((entry) => entry.busy > 0))
      throw new Error("a codec pool resizes only with no work pending");
    const count = Math.max(1, threads);
    while (this.#workers.length < count) this.#spawn();
    const extra = this.#workers.splice(count);
    for (const entry of extra) entry.retired = true;
    await stopWorkers(extra);
  }

  #spawn(): void {
    const started = this.#spares?.take() ?? startWorker();
    const { worker } = started;
    const entry: Entry = Object.assign(started, { busy: 0, retired: false });
    worker.on("message", (response: CodecResponse | typeof CODEC_READY) => {
      if (response === CODEC_READY) return;
      entry.busy--;
      const pending = this.#pending.get(response.id);
      this.#pending.delete(response.id);
      pending?.resolve(response);
    });
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", (code) => {
      if (!this.#closing && !entry.retired)
        this.#fail(new DstoreError("IntegrityError", `a codec worker stopped (exit code ${code})`));
    });
    // Its file comes first; the worker handles messages in order.
    worker.postMessage(this.#workerData);
    this.#workers.push(entry);
  }

  /** Segments worth having in flight to keep every worker busy. */
  get depth(): number {
    // At least two slots stay free: one being filled, one being written out or sent.
    return Math.max(1, Math.min(this.#workers.length + 1, this.ring.slots - 2));
  }

  /**
   * Seal (unless `sealed`) the segment in `slot`'s segment region and code it into the
   * slot's pieces; with `roots`, also root every piece on the leaf grid.
   */
  async encode(
    index: number,
    slot: number,
    sealed: boolean,
    roots: boolean,
  ): Promise<PieceRoots | undefined> {
    const response = await this.#run({
      op: "encode",
      id: this.#nextId++,
      index,
      slot,
      sealed,
      roots,
    });
    if (!("roots" in response) || !response.roots) return undefined;
    return response.roots.map((entry) =>
      entry ? { root: Buffer.from(entry.root), height: entry.height } : undefined,
    );
  }

  /**
   * Rebuild and open segment `index` from the pieces of `slot` marked `present`; the
   * plaintext lands at `shift` from the slot's start (at most its head). False when the
   * tag does not verify, and then the slot's data pieces are zeros (opened in place):
   * read them again.
   */
  async decode(index: number, slot: number, present: boolean[], shift: number): Promise<boolean> {
    const response = await this.#run({
      op: "decode",
      id: this.#nextId++,
      index,
      slot,
      present,
      shift,
    });
    return "opened" in response && response.opened;
  }

  /** Stop the workers; work still pending fails. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#fail(new DstoreError("IntegrityError", "the codec pool was closed"));
    await stopWorkers(this.#workers);
  }

  #run(request: CodecRequest): Promise<CodecResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    const answered = this.#inline ? this.#inline.run(request) : this.#post(request);
    return answered.then((response) => {
      if ("error" in response) {
        throw new DstoreError(
          "IntegrityError",
          `coding segment ${request.index} failed: ${response.error.message}`,
        );
      }
      return response;
    });
  }

  /** Send `request` to the least busy worker. */
  #post(request: CodecRequest): Promise<CodecResponse> {
    const entry = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    entry.busy++;
    return new Promise<CodecResponse>((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      entry.worker.postMessage(request);
    });
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
