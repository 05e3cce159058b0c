import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    include: ["tests/**/*.test.ts"],
    exclude: ["tests/edge/**", "node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["tests/build-wasm.setup.ts"],
  },
});
