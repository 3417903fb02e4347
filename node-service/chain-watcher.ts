import { readFile, rename, writeFile } from "node:fs/promises";
import type { Chain } from "../client/chain/contracts.ts";
import type { Logger } from "../client/logger.ts";
import type { ShardStore } from "./shard-store.ts";

/** Options of {@link ChainWatcher}. */
export interface ChainWatcherOptions {
  chain: Chain;
  store: ShardStore;
  nodeId: number;
  /** File that remembers the last block handled, so restarts resume there. */
  stateFile: string;
  logger: Logger;
  /** Poll interval in ms. */
  interval?: number;
  /**
   * Shards not on chain (or placed elsewhere) this long after upload are dropped, in ms
   * (default 24 h: well past an upload authorization's hour plus a long transfer and a
   * slow registration).
   */
  orphanGrace?: number;
  /** Most blocks per log query. */
  blockSpan?: number;
}

/**
 * Follows FileRegistry events for this node: drops the shards of deleted files and shards
 * moved away from it, and sweeps shards whose upload never reached the chain.
 */
export class ChainWatcher {
  readonly #o: Required<ChainWatcherOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastBlock = -1;
  #lastSweep = 0;
  /** Shards the chain places here: checked once, then only events can change that. */
  readonly #confirmed = new Set<string>();
  #stopped = false;

  constructor(options: ChainWatcherOptions) {
    this.#o = { interval: 1000, orphanGrace: 24 * 3600_000, blockSpan: 5000, ...options };
  }

  /** Resume from the saved block (or the deployment block) and poll until stopped. */
  async start(): Promise<void> {
    try {
      this.#lastBlock = JSON.parse(await readFile(this.#o.stateFile, "utf8")).lastBlock;
    } catch {
      this.#lastBlock = this.#o.chain.deployment.fromBlock - 1;
    }
    const tick = async () => {
      this.#running = this.poll().catch((error) =>
        this.#o.logger.warn("chain poll failed", { error }),
      );
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.interval);
    };
    await tick();
  }

  /** Stop polling; waits for a poll in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Handle every new block once. */
  async poll(): Promise<void> {
    const { chain, store, nodeId, logger } = this.#o;
    const head = await chain.provider.getBlockNumber();
    while (this.#lastBlock < head) {
      const from = this.#lastBlock + 1;
      const to = Math.min(head, from + this.#o.blockSpan - 1);
      const registry = chain.fileRegistry;
      const deleted = await registry.queryFilter(registry.filters.FileDeleted(), from, to);
      const moved = await registry.queryFilter(
        registry.filters.ShardReassigned(undefined, undefined, nodeId),
        from,
        to,
      );
      const gone = new Set(deleted.map((event) => event.args.fileId.toLowerCase()));
      for (const meta of [...store.list()]) {
        const movedAway = moved.some(
          (event) =>
            event.args.fileId.toLowerCase() === meta.fileId.toLowerCase() &&
            Number(event.args.shardIndex) === meta.shardIndex &&
            Number(event.args.to) !== nodeId,
        );
        if (gone.has(meta.fileId.toLowerCase()) || movedAway) {
          this.#confirmed.delete(meta.shardId);
          await store.remove(meta.shardId);
          logger.info("dropped shard", {
            shardId: meta.shardId,
            reason: movedAway ? "moved" : "file deleted",
          });
        }
      }
      this.#lastBlock = to;
      await this.#save();
    }
    if (Date.now() - this.#lastSweep > Math.min(this.#o.orphanGrace, 600_000)) {
      this.#lastSweep = Date.now();
      await this.sweepOrphans();
    }
  }

  /** Drop shards older than the grace period that the chain does not place on this node. */
  async sweepOrphans(): Promise<void> {
    const { chain, store, nodeId, logger } = this.#o;
    const cutoff = Date.now() - this.#o.orphanGrace;
    for (const shardId of this.#confirmed) if (!store.get(shardId)) this.#confirmed.delete(shardId);
    for (const meta of [...store.list()]) {
      if (meta.storedAt > cutoff) continue;
      const exists = await chain.fileRegistry.exists(meta.fileId);
      const placed =
        exists &&
        Number(await chain.fileRegistry.placementOf(meta.fileId, meta.shardIndex)) === nodeId;
      if (!placed) {
        await store.remove(meta.shardId);
        logger.info("dropped orphan shard", { shardId: meta.shardId, registered: exists });
      }
    }
  }

  async #save(): Promise<void> {
    const tmp = `${this.#o.stateFile}.tmp`;
    await writeFile(tmp, JSON.stringify({ lastBlock: this.#lastBlock }));
    await rename(tmp, this.#o.stateFile);
  }
}
