import { randomInt } from "node:crypto";
import { DstoreError } from "./errors.ts";

/** A node that can take shards. */
export interface PlacementCandidate {
  nodeId: number;
  /** Free bytes. */
  free: number;
}

/** Where the shards of a file go. */
export interface PlacementPlan {
  /** Node id of each shard. */
  placements: number[];
  /** Whether every shard has its own node. */
  distinct: boolean;
  /** How many nodes can be lost, whichever they are, with the file still readable. */
  survivableNodeLosses: number;
}

/**
 * Place `shards` shards of `shardSize` bytes: on distinct nodes, chosen at random among
 * those with room, when there are enough; otherwise spread as evenly as possible.
 */
export function planPlacement(
  candidates: readonly PlacementCandidate[],
  shards: number,
  k: number,
  shardSize: number,
): PlacementPlan {
  const roomy = shuffle(candidates.filter((node) => node.free >= shardSize));
  if (roomy.length === 0) {
    throw new DstoreError(
      "NotEnoughNodes",
      "no online storage node has room for this file's shards",
    );
  }
  const placements = Array.from({ length: shards }, (_, i) => roomy[i % roomy.length]!.nodeId);
  return {
    placements,
    distinct: roomy.length >= shards,
    survivableNodeLosses: survivableLosses(placements, k),
  };
}

/** How many nodes can fail, worst case, with at least `k` shards left. */
export function survivableLosses(placements: readonly number[], k: number): number {
  const counts = new Map<number, number>();
  for (const node of placements) counts.set(node, (counts.get(node) ?? 0) + 1);
  const heaviest = [...counts.values()].sort((a, b) => b - a);
  let left = placements.length;
  let lost = 0;
  for (const count of heaviest) {
    if (left - count < k) break;
    left -= count;
    lost++;
  }
  return lost;
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
