import { defineConfig } from "vitest/config";

// Two projects under one `npm test`: Node tests (engine, stages, shared formats, wasm, browser)
// and Workers-runtime tests of the edge app (edge/vitest.config.ts, added with the edge).
import { existsSync } from "node:fs";

export default defineConfig({
  test: {
    projects: [
      "./vitest.node.config.ts",
      ...(existsSync("./edge/vitest.config.ts") ? ["./edge/vitest.config.ts"] : []),
    ],
  },
});
