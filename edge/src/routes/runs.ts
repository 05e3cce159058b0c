// POST /v1/runs (admin): create a run from its manifest. GET /v1/runs/:run/manifest (any role
// scoped to the run).
import { Hono } from "hono";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { parseRunId } from "../params.ts";
import { createRun, loadManifest, validateManifest } from "../storage/runs.ts";
import { readJson } from "./json-body.ts";

export const runRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const claims = requireRole(c, "admin");
    const manifest = validateManifest(await readJson(c));
    const run = parseRunId(manifest.runId);
    requireRun(claims, run);
    await createRun(c.env.BUCKET, run, manifest);
    return c.json({ runId: run, manifest }, 201);
  })
  .get("/:run/manifest", async (c) => {
    const claims = requireRole(c, "admin", "worker", "trainer");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    return c.json(await loadManifest(c.env.BUCKET, run));
  });
