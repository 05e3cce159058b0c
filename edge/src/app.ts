// The distill edge service: authenticated upload of a run's images and label tables, and the
// batch stream that serves crops and soft labels to training clients. Routes (all under /v1,
// all need a bearer token; roles in edge/README.md):
//   POST   /v1/tokens                          admin    issue a token
//   DELETE /v1/tokens/:jti                     admin    revoke a token
//   POST   /v1/runs                            admin    create a run (manifest body)
//   GET    /v1/runs/:run/manifest              any      the run's manifest
//   GET    /v1/runs/:run/status                any      images and shards published
//   PUT    /v1/runs/:run/images/:index         worker   one PNG
//   PUT    /v1/runs/:run/tables/:shard         worker   one label-table shard (streamed)
//   POST   /v1/runs/:run/tables/:shard/quarantine admin take a bad shard out of service (audited)
//   GET    /v1/runs/:run/log                   admin    the run's audit log
//   GET    /v1/runs/:run/batches/:epoch/:batch trainer  crops + labels (+ pixels) of a batch
import { Hono } from "hono";
import { authenticate } from "./auth/middleware.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorBody } from "./errors.ts";
import { batchRoutes } from "./routes/batches.ts";
import { imageRoutes } from "./routes/images.ts";
import { launchRoutes } from "./routes/launches.ts";
import { logRoutes } from "./routes/log.ts";
import { releaseUnreadBody } from "./routes/read-body.ts";
import { runRoutes } from "./routes/runs.ts";
import { statusRoutes } from "./routes/status.ts";
import { tableRoutes } from "./routes/tables.ts";
import { tokenRoutes } from "./routes/tokens.ts";

export const app = new Hono<AppEnv>();

// Every answer, refusals included, releases a body left unread (read-body.ts says how), so a
// refusal reaches a client still sending at once.
app.use("*", async (c, next) => {
  try {
    await next();
  } finally {
    await releaseUnreadBody(c.req.raw);
  }
});
app.get("/", (c) => c.json({ service: "distill-edge", api: "/v1" }));
app.use("/v1/*", authenticate);
app.route("/v1/tokens", tokenRoutes);
app.route("/v1/runs", runRoutes);
app.route("/v1/runs", statusRoutes);
app.route("/v1/runs", imageRoutes);
app.route("/v1/runs", tableRoutes);
app.route("/v1/runs", batchRoutes);
app.route("/v1/runs", logRoutes);
app.route("/v1/launches", launchRoutes); // cluster launches (routes/launches.ts lists them)

app.notFound((c) =>
  c.json(
    errorBody("NOT_FOUND", `no route ${c.req.method} ${new URL(c.req.url).pathname}: see edge/README.md for the API`),
    404,
  ),
);

app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message), err.status);
  // Unexpected: log what failed (never headers: they carry tokens), answer without internals.
  console.error(
    `edge: ${c.req.method} ${new URL(c.req.url).pathname} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  return c.json(errorBody("INTERNAL", "internal error; the request was not completed"), 500);
});
