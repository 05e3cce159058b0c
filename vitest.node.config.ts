import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    include: ["tests/**/*.test.ts"],
    exclude: ["tests/edge/**", "node_modules/**"],
    // Generous on purpose: on a busy 2-core machine the heaviest tests (MNIST training, CLI
    // runs) take several times their quiet-machine time, and a test should fail on its
    // assertions (accuracy, outputs), not on the clock. The limit only catches hangs.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
    globalSetup: ["tests/build-wasm.setup.ts"],
  },
});
