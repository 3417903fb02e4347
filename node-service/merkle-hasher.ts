import { Worker } from "node:worker_threads";
import { alignedBlocks } from "../client/data-path/aligned-blocks.ts";
import { projectModule } from "../client/module-paths.ts";
import type { MerkleRequest, MerkleResponse } from "./merkle-protocol.ts";

/** One upload being hashed. */
export interface MerkleJob {
  /**
   * Hash `block` next: a view of an aligned block (aligned-blocks.ts), which must not
   * change until this settles. Resolves with the leaf hashes it completed, in order.
   */
  update(block: Uint8Array): Promise<Buffer>;
  /** The Merkle root, and the last leaf hashes. */
  digest(): Promise<{ root: Buffer; leaves: Buffer }>;
  /** Forget the upload (it failed). */
  drop(): void;
}

/**
 * A storage node's Merkle hashing, in a worker thread of its own: SHA-256 of every 4 KiB
 * leaf and inner node is most of a node's CPU per byte received (~0.9 s per GiB here), and
 * on the main thread 64 uploads at once made each turn of the event loop long. The worker
 * reads each block where the node's FileWriter filled it, in the process's shared
 * aligned-blocks memory: nothing is copied to it. Answers come in the order asked.
 */
export class MerkleHasher {
  readonly #worker: Worker;
  readonly #pending: { resolve: (r: MerkleResponse) => void; reject: (e: Error) => void }[] = [];
  #nextId = 0;
  #failure: Error | undefined;

  constructor() {
    this.#worker = new Worker(projectModule("node-service/merkle-worker"));
    // Only work in flight holds the process open.
    this.#worker.unref();
    this.#post({ op: "memory", memory: alignedBlocks.memory });
    this.#worker.on("message", (response: MerkleResponse) => {
      const pending = this.#pending.shift();
      if (this.#pending.length === 0) this.#worker.unref();
      if (response.error) pending?.reject(new Error(response.error));
      else pending?.resolve(response);
    });
    this.#worker.on("error", (error) => this.#fail(error));
    this.#worker.on("exit", (code) =>
      this.#fail(new Error(`the Merkle worker stopped (exit code ${code})`)),
    );
  }

  /** A new upload to hash. */
  job(): MerkleJob {
    const id = this.#nextId++;
    return {
      update: async (block) => {
        const response = await this.#ask({
          op: "update",
          id,
          offset: block.byteOffset,
          length: block.length,
        });
        return leavesOf(response);
      },
      digest: async () => {
        const response = await this.#ask({ op: "digest", id });
        return { root: Buffer.from(response.root!), leaves: leavesOf(response) };
      },
      drop: () => {
        if (!this.#failure) this.#post({ op: "drop", id });
      },
    };
  }

  /** Stop the worker; work in flight fails. */
  async close(): Promise<void> {
    this.#fail(new Error("the Merkle hasher is closed"));
    await this.#worker.terminate();
  }

  #ask(request: MerkleRequest): Promise<MerkleResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      if (this.#pending.length === 1) this.#worker.ref();
      this.#post(request);
    });
  }

  #post(request: MerkleRequest): void {
    this.#worker.postMessage(request);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.splice(0)) pending.reject(this.#failure);
    this.#worker.unref();
  }
}

/** The leaf hashes of an answer, as a Buffer over the memory the worker handed over. */
function leavesOf({ leaves }: MerkleResponse): Buffer {
  return Buffer.from(leaves.buffer, leaves.byteOffset, leaves.length);
}
