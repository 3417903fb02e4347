import { DstoreError } from "../errors.ts";
import type { FileLayout } from "../protocol/layout.ts";
import type { ShardId } from "../protocol/shard-id.ts";
import { fetchShardBody, type ShardBody } from "../shard-body.ts";

/**
 * Streams one shard from its node and cuts it into its segments' pieces, in order. The
 * pieces are checked where they are used: a segment decoded from them must pass its
 * AES-GCM tag.
 */
export class ShardReader {
  readonly index: number;
  readonly endpoint: string;
  readonly #layout: FileLayout;
  readonly #shardId: ShardId;
  readonly #abort = new AbortController();
  readonly #idleTimeout: number;
  #body: Promise<ShardBody> | undefined;
  #position: number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    layout: FileLayout,
    shardId: ShardId,
    index: number,
    endpoint: string,
    start: number,
    idleTimeout = 30_000,
  ) {
    this.#layout = layout;
    this.#shardId = shardId;
    this.index = index;
    this.endpoint = endpoint;
    this.#position = start;
    this.#idleTimeout = idleTimeout;
  }

  /** The next segment this reader will deliver. */
  get position(): number {
    return this.#position;
  }

  /**
   * Read the piece of segment `segment` (the reader's position) into `target` (or a
   * fresh buffer). Calls queue up.
   */
  piece(segment: number, target?: Buffer): Promise<Buffer> {
    const result = this.#queue.then(() => this.#read(segment, target));
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Stop reading; pending calls fail. */
  close(): void {
    this.#abort.abort();
  }

  async #read(segment: number, target: Buffer | undefined): Promise<Buffer> {
    // Readers are asked for their pieces in order; a reader that falls behind is closed
    // and another opened where the download is, so there is never anything to skip.
    if (segment !== this.#position) {
      throw new RangeError(`shard ${this.index} is at segment ${this.#position}, not ${segment}`);
    }
    return this.#next(target);
  }

  async #next(target: Buffer | undefined): Promise<Buffer> {
    if (this.#abort.signal.aborted) throw new DstoreError("NodeRequestError", "reader closed");
    if (!this.#body) {
      const offset = this.#layout.pieceOffset(this.#position);
      this.#body = fetchShardBody(this.endpoint, this.#shardId, offset, {
        signal: this.#abort.signal,
        idleTimeout: this.#idleTimeout,
      });
      const { length } = await this.#body;
      if (length !== this.#layout.shardSize - offset) {
        // Nothing more is read from it: the connection goes now, and later calls fail.
        this.#abort.abort();
        throw new DstoreError(
          "IntegrityError",
          `shard ${this.index} at ${this.endpoint} has the wrong size`,
        );
      }
    }
    const body = await this.#body;
    const size = this.#layout.pieceSize(this.#position);
    // The kernel reads the piece straight into place (the ring's slot, mostly).
    const piece = target ? target.subarray(0, size) : Buffer.allocUnsafe(size);
    await body.read(piece);
    this.#position++;
    return piece;
  }
}
