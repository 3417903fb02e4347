import { describe, expect, it } from "vitest";
import { RootTrailers, TRAILERS_LOST_FOR } from "../../node-service/root-trailers.ts";

describe("RootTrailers", () => {
  it("says roots arrive until one is lost, then not for an hour, then again", () => {
    let now = 1_000_000;
    const trailers = new RootTrailers(() => now);
    expect(trailers.arrive).toBe(true);
    trailers.lost();
    expect(trailers.arrive).toBe(false);
    now += TRAILERS_LOST_FOR - 1;
    expect(trailers.arrive).toBe(false);
    now += 1;
    expect(trailers.arrive).toBe(true);
  });
});
