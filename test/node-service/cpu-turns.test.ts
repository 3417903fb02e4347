import { describe, expect, it } from "vitest";
import { CpuTurns } from "../../node-service/cpu-turns.ts";

/** Hold the thread for `ms` milliseconds, as a signature check holds it. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe("CpuTurns", () => {
  it("runs steps queued at once in order, in turns of their own: a due timer fires between them", async () => {
    const turns = new CpuTurns();
    const order: string[] = [];
    const steps = [1, 2, 3].map((step) =>
      turns.run(() => {
        // A timer set by the first step is due before the second may start.
        if (step === 1) setTimeout(() => order.push("timer"), 0);
        busy(15);
        order.push(`step ${step}`);
        return step;
      }),
    );
    expect(await Promise.all(steps)).toEqual([1, 2, 3]);
    expect(order).toEqual(["step 1", "timer", "step 2", "step 3"]);
  });

  it("goes on with the next step after one fails", async () => {
    const turns = new CpuTurns();
    const failing = turns.run(() => {
      throw new Error("bad signature");
    });
    const next = turns.run(async () => "next");
    await expect(failing).rejects.toThrow("bad signature");
    expect(await next).toBe("next");
  });
});
