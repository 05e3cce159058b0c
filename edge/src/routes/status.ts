// GET /v1/runs/:run/status (any role scoped to the run): which images and label-table shards
// are published, and whether the run is complete. Uploads in progress are never counted.
import { Hono } from "hono";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { parseRunId } from "../params.ts";
import { indexFromKey, keys } from "../storage/keys.ts";
import { loadManifest } from "../storage/runs.ts";
import { listShards } from "../storage/shards.ts";

export const statusRoutes = new Hono<AppEnv>().get("/:run/status", async (c) => {
  const claims = requireRole(c, "admin", "worker", "trainer");
  const run = parseRunId(c.req.param("run"));
  requireRun(claims, run);
  const m = await loadManifest(c.env.BUCKET, run);
  const present = new Uint8Array(m.images);
  const prefix = keys.imagesPrefix(run);
  let cursor: string | undefined;
  do {
    const page = await c.env.BUCKET.list({ prefix, cursor });
    for (const o of page.objects) {
      const i = indexFromKey(o.key, prefix, ".png");
      if (i !== null && i < m.images) present[i] = 1;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const missingImages: number[] = [];
  let imagesPresent = 0;
  present.forEach((p, i) => (p ? imagesPresent++ : missingImages.length < 20 && missingImages.push(i)));

  const shards = await listShards(c.env.BUCKET, run);
  const covered = new Uint8Array(m.relabel.epochs);
  for (const s of shards) covered.fill(1, s.header.epochStart, s.header.epochStart + s.header.epochCount);
  const epochsPresent = covered.reduce((a, b) => a + b, 0);
  return c.json({
    runId: run,
    images: { expected: m.images, present: imagesPresent, firstMissing: missingImages },
    tables: {
      epochs: m.relabel.epochs,
      epochsPresent,
      shards: shards.map((s) => ({
        shard: s.shard,
        epochStart: s.header.epochStart,
        epochCount: s.header.epochCount,
        bytes: s.bytes,
        sha256: s.sha256,
      })),
    },
    labelsReady: epochsPresent === m.relabel.epochs,
    pixelsReady: imagesPresent === m.images,
  });
});
