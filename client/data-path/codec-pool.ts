import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DstoreError } from "../errors.ts";
import type { FileLayout } from "../protocol/layout.ts";
import type { CodecRequest, CodecResponse, CodecWorkerData } from "./codec-protocol.ts";

/** One coded segment: its k + m pieces and, when asked, each aligned piece's subtree root. */
export interface EncodedSegment {
  pieces: Buffer[];
  /** Per piece: the Merkle root of its 2^height leaves, or undefined if not aligned. */
  roots?: ({ root: Buffer; height: number } | undefined)[];
}

type Pending = { resolve: (response: CodecResponse) => void; reject: (error: Error) => void };

/**
 * Worker threads that do a file's CPU work (AES-GCM, Reed-Solomon, SHA-256) so the main
 * thread only moves bytes. Buffers travel by transfer, not by copy. One pool per file.
 */
export class CodecPool {
  readonly #workers: { worker: Worker; busy: number }[] = [];
  /** Segments worth keeping in flight to keep every worker busy. */
  get depth(): number {
    return this.#workers.length + 2;
  }
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;

  /** @param threads Workers to run (default: `DSTORE_WORKERS`, else one per core). */
  constructor(fileKey: Uint8Array, fileId: Uint8Array, layout: FileLayout, threads?: number) {
    const count = threads ?? (Number(process.env.DSTORE_WORKERS) || availableParallelism());
    const workerData: CodecWorkerData = {
      fileKey,
      fileId,
      layout: { size: layout.size, segmentSize: layout.segmentSize, k: layout.k, m: layout.m },
    };
    for (let i = 0; i < Math.max(1, count); i++) {
      const worker = new Worker(new URL("./codec-worker.ts", import.meta.url), { workerData });
      const entry = { worker, busy: 0 };
      worker.on("message", (response: CodecResponse) => {
        entry.busy--;
        const pending = this.#pending.get(response.id);
        this.#pending.delete(response.id);
        pending?.resolve(response);
      });
      worker.on("error", (error) => this.#fail(error));
      this.#workers.push(entry);
    }
  }

  /** Seal (unless `sealed`) and erasure-code segment `index`; `roots` also roots each piece. */
  async encode(
    index: number,
    data: Buffer,
    sealed: boolean,
    roots: boolean,
  ): Promise<EncodedSegment> {
    const buffer = ownBuffer(data);
    const response = await this.#run(
      { op: "encode", id: this.#nextId++, index, data: buffer, sealed, roots },
      [buffer],
    );
    if (!("pieces" in response) || "failed" in response) throw new Error("unexpected codec answer");
    return {
      pieces: response.pieces.map((piece) => Buffer.from(piece.buffer, piece.offset, piece.length)),
      ...(response.roots
        ? {
            roots: response.roots.map((entry) =>
              entry ? { root: Buffer.from(entry.root), height: entry.height } : undefined,
            ),
          }
        : {}),
    };
  }

  /**
   * Decode and open segment `index`. Resolves to the plaintext, or to the pieces handed
   * back when authentication failed (some piece is corrupt).
   */
  async decode(
    index: number,
    pieces: readonly (Buffer | undefined)[],
  ): Promise<{ plain: Buffer } | { failed: (Buffer | undefined)[] }> {
    const buffers = pieces.map((piece) => (piece ? ownBuffer(piece) : null));
    const transfer = buffers.filter((b): b is ArrayBuffer => b !== null);
    const response = await this.#run(
      { op: "decode", id: this.#nextId++, index, pieces: buffers },
      transfer,
    );
    if ("plain" in response) return { plain: Buffer.from(response.plain) };
    if ("failed" in response)
      return { failed: response.pieces.map((b) => (b ? Buffer.from(b) : undefined)) };
    throw new Error("unexpected codec answer");
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  #run(request: CodecRequest, transfer: ArrayBuffer[]): Promise<CodecResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    const entry = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    entry.busy++;
    return new Promise<CodecResponse>((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      entry.worker.postMessage(request, transfer);
    }).then((response) => {
      if ("error" in response) {
        throw new DstoreError(
          "IntegrityError",
          `coding segment ${request.index} failed: ${response.error.message}`,
        );
      }
      return response;
    });
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/** The bytes of `data` as an ArrayBuffer of their own (a copy only if `data` shares one). */
function ownBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength)
    return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}
