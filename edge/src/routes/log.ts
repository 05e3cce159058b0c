// GET /v1/runs/:run/log (admin): the run's audit log (shards quarantined or deleted, by whom, why).
import { Hono } from "hono";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { parseRunId } from "../params.ts";
import { readLog } from "../storage/run-log.ts";
import { loadManifest } from "../storage/runs.ts";

export const logRoutes = new Hono<AppEnv>().get("/:run/log", async (c) => {
  const claims = requireRole(c, "admin");
  const run = parseRunId(c.req.param("run"));
  requireRun(claims, run);
  await loadManifest(c.env.BUCKET, run);
  return c.json({ runId: run, entries: await readLog(c.env.BUCKET, run) });
});
