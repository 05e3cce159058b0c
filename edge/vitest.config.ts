// Tests of the edge app inside the Workers runtime (workerd via @cloudflare/vitest-plugin),
// offline, with the bindings of wrangler.toml (local R2 and KV) and the development signing key.
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { DEV_SIGNING_KEY } from "./scripts/dev-key.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root,
  plugins: [
    cloudflareTest({
      wrangler: { configPath: `${root}wrangler.toml` },
      miniflare: { bindings: { TOKEN_SIGNING_KEY: DEV_SIGNING_KEY } },
    }),
  ],
  test: {
    name: "edge",
    root,
    include: ["tests/edge/**/*.test.ts"],
    testTimeout: 120_000, // generous: a busy machine must not fail a test by the clock (see vitest.node.config.ts)
  },
});
