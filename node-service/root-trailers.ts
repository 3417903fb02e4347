/** How long a node goes on saying that roots signed after a shard do not reach it. */
export const TRAILERS_LOST_FOR = 60 * 60_000;

/**
 * Whether roots signed after a shard's body (an HTTP trailer) reach this node. A proxy in
 * front of it may drop trailers, or buffer bodies and forward them with a length (nginx
 * does both); once a root has not arrived, the node says so in `/v1/status` for an hour,
 * and clients send it their roots up front instead of sending its shards twice. (Anyone
 * who may upload can set it: it costs clients a little speed, never a shard.)
 */
export class RootTrailers {
  readonly #now: () => number;
  #lostAt = Number.NEGATIVE_INFINITY;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A root signed after its shard did not arrive. */
  lost(): void {
    this.#lostAt = this.#now();
  }

  /** Whether roots signed after their shards are taken to reach this node. */
  get arrive(): boolean {
    return this.#now() - this.#lostAt >= TRAILERS_LOST_FOR;
  }
}
