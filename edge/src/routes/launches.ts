// Cluster launches (admin) and what the cluster side reports back. The edge never reaches into
// a cluster: a dispatcher there (`distill cluster dispatch`) polls GET /v1/launches, submits
// to Slurm, and PUTs shard states to /report; shard jobs create the run's manifest with their
// worker token (PUT /manifest, allowed only for a launched run) and then upload images and
// table shards through the ordinary upload routes.
//   POST /v1/launches                 admin (scoped to plan.run)  launch a plan; the same plan again is the same launch
//   GET  /v1/launches                 admin                       launches within the token's scope
//   GET  /v1/launches/:run            admin (scoped)              one launch: plan, state, shards, what is published
//   POST /v1/launches/:run/cancel     admin (scoped)              ask the dispatcher to cancel
//   PUT  /v1/launches/:run/report     admin (scoped; the dispatcher)  shard states
//   PUT  /v1/launches/:run/manifest   worker (scoped)             the run's manifest, from its squeeze job
import { Hono } from "hono";
import { parseClusterPlan } from "../../../shared/cluster-plan.ts";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { parseRunId } from "../params.ts";
import { callLaunchBoard, canonical, type Launch, type LaunchReport } from "../storage/launch-board.ts";
import { createRun, loadManifest, validateManifest } from "../storage/runs.ts";
import { indexFromKey, keys } from "../storage/keys.ts";
import { listShards } from "../storage/shards.ts";
import type { R2Bucket } from "@cloudflare/workers-types/latest/index.ts";
import type { RunId } from "../params.ts";
import { readJson } from "./json-body.ts";

const REPORT_STATES = new Set(["running", "completed", "failed", "cancelled"]);

function parseReport(json: unknown): LaunchReport {
  const r = json as LaunchReport;
  if (
    !r ||
    typeof r !== "object" ||
    !REPORT_STATES.has(r.state) ||
    !Array.isArray(r.shards) ||
    r.shards.length > 100_000 ||
    !r.shards.every(
      (s) =>
        s &&
        typeof s.stage === "string" &&
        s.stage.length <= 16 &&
        Number.isInteger(s.index) &&
        typeof s.state === "string" &&
        s.state.length <= 16 &&
        Number.isInteger(s.attempts) &&
        typeof s.jobId === "string" &&
        s.jobId.length <= 32,
    )
  )
    throw new ApiError(
      400,
      "BAD_PARAM",
      "a report is {state: running|completed|failed|cancelled, shards: [{stage, index, state, attempts, jobId}], message?}",
    );
  return {
    state: r.state,
    shards: r.shards,
    message: typeof r.message === "string" ? r.message.slice(0, 500) : undefined,
  };
}

/** What a trainer can use already: classes whose images are all published, epochs whose labels are. */
async function published(bucket: R2Bucket, run: RunId): Promise<{ classes: number[]; epochs: number[][] }> {
  let m;
  try {
    m = await loadManifest(bucket, run);
  } catch (e) {
    if (e instanceof ApiError && e.code === "RUN_NOT_FOUND") return { classes: [], epochs: [] };
    throw e;
  }
  const present = new Uint8Array(m.images);
  const prefix = keys.imagesPrefix(run);
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    for (const o of page.objects) {
      const i = indexFromKey(o.key, prefix, ".png");
      if (i !== null && i < m.images) present[i] = 1;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const classes: number[] = [];
  for (let c = 0; c < m.dataset.classes; c++)
    if (present.subarray(c * m.ipc, (c + 1) * m.ipc).every((p) => p === 1)) classes.push(c);
  // epoch ranges [start, end) of the published table shards, in order
  const epochs = (await listShards(bucket, run)).map((s) => [
    s.header.epochStart,
    s.header.epochStart + s.header.epochCount,
  ]);
  return { classes, epochs };
}

export const launchRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const claims = requireRole(c, "admin");
    let plan;
    try {
      plan = parseClusterPlan(await readJson(c));
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(400, "PLAN_INVALID", (e as Error).message);
    }
    requireRun(claims, parseRunId(plan.run));
    const r = await callLaunchBoard<{ created: boolean; launch: Launch }>(c.env.LAUNCHES, {
      action: "launch",
      plan,
      by: claims.sub ?? claims.jti,
    });
    return c.json(r.launch, r.created ? 201 : 200);
  })
  .get("/", async (c) => {
    const claims = requireRole(c, "admin");
    const all = await callLaunchBoard<Launch[]>(c.env.LAUNCHES, { action: "list" });
    return c.json(claims.runs === "*" ? all : all.filter((l) => claims.runs.includes(l.plan.run)));
  })
  .get("/:run", async (c) => {
    const claims = requireRole(c, "admin");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    const launch = await callLaunchBoard<Launch>(c.env.LAUNCHES, { action: "get", run });
    return c.json({ ...launch, ready: await published(c.env.BUCKET, run) });
  })
  .post("/:run/cancel", async (c) => {
    const claims = requireRole(c, "admin");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    return c.json(await callLaunchBoard<Launch>(c.env.LAUNCHES, { action: "cancel", run }), 202);
  })
  .put("/:run/report", async (c) => {
    const claims = requireRole(c, "admin");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    const report = parseReport(await readJson(c));
    return c.json(await callLaunchBoard<Launch>(c.env.LAUNCHES, { action: "report", run, report }));
  })
  .put("/:run/manifest", async (c) => {
    const claims = requireRole(c, "worker");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    const launch = await callLaunchBoard<Launch>(c.env.LAUNCHES, { action: "get", run });
    if (launch.cancelRequested)
      throw new ApiError(409, "LAUNCH_EXISTS", `the launch of run ${run} was cancelled: nothing more is published`);
    const m = validateManifest(await readJson(c));
    // below 8 bits per pixel a run keeps 8 / b images per class for each of the plan's IPC
    const ipcs = [1, 2, 4, 8].map((k) => k * launch.plan.ipc);
    if (m.runId !== run || !ipcs.includes(m.ipc))
      throw new ApiError(
        400,
        "MANIFEST_INVALID",
        `the manifest must have runId ${run} and ipc ${ipcs.join(", ")} (the launch's plan: its IPC, times 8 / b at b bits per pixel); got ${m.runId}, ${m.ipc}`,
      );
    try {
      const existing = await loadManifest(c.env.BUCKET, run);
      // a squeeze job that runs again sends the same manifest (its createdAt aside): that is no conflict
      if (canonical({ ...existing, createdAt: "" }) === canonical({ ...m, createdAt: "" }))
        return c.json({ runId: run, unchanged: true });
      throw new ApiError(409, "RUN_EXISTS", `run ${run} exists with another manifest; runs are immutable`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "RUN_NOT_FOUND") throw e;
    }
    await createRun(c.env.BUCKET, run, m);
    return c.json({ runId: run, manifest: m }, 201);
  });
