import { describe, expect, it } from "vitest";
import { planPlacement, survivableLosses } from "../../client/placement.ts";

const nodes = (count: number, free = 10_000) =>
  Array.from({ length: count }, (_, i) => ({ nodeId: i + 1, free }));

describe("placement", () => {
  it("puts every shard on its own node when there are enough nodes", () => {
    const plan = planPlacement(nodes(8), 6, 4, 100);
    expect(new Set(plan.placements).size).toBe(6);
    expect(plan.distinct).toBe(true);
    expect(plan.survivableNodeLosses).toBe(2);
  });

  it("spreads shards evenly over fewer nodes and says how many losses the file survives", () => {
    const plan = planPlacement(nodes(3), 6, 4, 100);
    const counts = [1, 2, 3].map((id) => plan.placements.filter((p) => p === id).length);
    expect(counts).toEqual([2, 2, 2]);
    expect(plan.distinct).toBe(false);
    expect(plan.survivableNodeLosses).toBe(1);
  });

  it("skips nodes without room and fails with NotEnoughNodes when none has any", () => {
    const plan = planPlacement([...nodes(5), { nodeId: 99, free: 10 }], 6, 4, 100);
    expect(plan.placements).not.toContain(99);
    expect(() => planPlacement(nodes(3, 10), 6, 4, 100)).toThrow(
      expect.objectContaining({ name: "NotEnoughNodes" }),
    );
  });

  it("counts survivable losses by the heaviest nodes first", () => {
    expect(survivableLosses([1, 1, 1, 2, 3, 4], 4)).toBe(0);
    expect(survivableLosses([1, 2, 3, 4, 5, 6], 4)).toBe(2);
    expect(survivableLosses([1, 1, 2, 2, 3, 3], 2)).toBe(2);
  });
});
