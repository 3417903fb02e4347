import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // End-to-end tests start real chains and node processes; give them room, never sleep.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
