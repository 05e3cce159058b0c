// PUT /v1/runs/:run/tables/:shard (worker scoped to the run): one label-table shard, streamed
// (never held whole) into a temporary key while its SHA-256 and its table checks (header vs
// manifest, epoch CRCs, every record) run on the same bytes; only when all pass does the run's
// publisher (one Durable Object per run) publish it under its final key: create-only, no
// overlap, one atomic R2 put. A failed or cut-off upload leaves nothing listed.
import { Hono } from "hono";
import { z } from "zod";
import type { ReadableStream as WorkersReadableStream } from "@cloudflare/workers-types/latest/index.ts";
import { requireRole, requireRun } from "../auth/middleware.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { parseIntParam, parseRunId } from "../params.ts";
import { keys } from "../storage/keys.ts";
import { loadManifest } from "../storage/runs.ts";
import { callPublisher, type PublishResult } from "../storage/run-publisher.ts";
import type { LogEntry } from "../storage/run-log.ts";
import { encodeBase64, invalidateShards, MAX_SHARD } from "../storage/shards.ts";
import { TableCheck } from "../tables/table-check.ts";
import { hex, newFixedLengthStream, newSha256Stream } from "../workers-globals.ts";
import { readJson } from "./json-body.ts";
import { uploadHeaders } from "./upload-headers.ts";

/** R2's limit for a single put. */
export const MAX_TABLE_BYTES = 5 * 1000 ** 3 - 5 * 1024 ** 2;

export const tableRoutes = new Hono<AppEnv>()
  .put("/:run/tables/:shard", async (c) => {
    const claims = requireRole(c, "worker");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    const shard = parseIntParam("shard", c.req.param("shard"), 0, MAX_SHARD);
    const m = await loadManifest(c.env.BUCKET, run);
    const { length, sha256 } = uploadHeaders(c, MAX_TABLE_BYTES, "split the table into shards by epoch range");
    const bucket = c.env.BUCKET;
    const finalKey = keys.table(run, shard);
    const existing = await bucket.head(finalKey);
    if (existing) {
      if (existing.customMetadata?.sha256 === sha256)
        return c.json({ shard, bytes: existing.size, sha256, unchanged: true });
      throw new ApiError(
        409,
        "SHARD_EXISTS",
        `shard ${shard} of run ${run} is already published with other content; shards are immutable: use a new shard number`,
      );
    }
    const body = c.req.raw.body;
    if (!body) throw new ApiError(400, "BAD_PARAM", "the body is empty");

    const check = new TableCheck(m, length);
    const digest = newSha256Stream();
    // Every promise of this pipeline is observed: a cut-off body must fail the request, not
    // surface later as an unhandled rejection.
    digest.digest.catch(() => undefined);
    const hashWriter = digest.getWriter();
    const checker = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, out) {
        check.push(chunk);
        await hashWriter.write(chunk);
        out.enqueue(chunk);
      },
      flush() {
        check.finish();
      },
    });
    const received = body.pipeTo(checker.writable).catch((e: unknown) => {
      hashWriter.abort(e).catch(() => undefined);
    });
    const sized = newFixedLengthStream(length);
    const piped = (checker.readable as unknown as WorkersReadableStream).pipeTo(sized.writable).catch(() => undefined);
    const tmpKey = keys.upload(run, Date.now(), crypto.randomUUID());
    try {
      await bucket.put(tmpKey, sized.readable);
    } catch {
      await Promise.all([received, piped]);
      throw (
        check.failure ??
        new ApiError(
          400,
          "UPLOAD_ABORTED",
          `the body ended before its ${length} bytes arrived; nothing was published: upload again`,
        )
      );
    }
    try {
      await Promise.all([received, piped]);
      const header = check.finish();
      await hashWriter.close();
      const actual = hex(await digest.digest);
      if (actual !== sha256)
        throw new ApiError(
          400,
          "SHA256_MISMATCH",
          `the body's SHA-256 is ${actual}, x-content-sha256 says ${sha256}: nothing was published`,
        );
      // The decide-and-write step, serialised per run (storage/run-publisher.ts).
      const result = await callPublisher<PublishResult>(c.env.PUBLISHER, run, "publish", {
        run,
        shard,
        tmpKey,
        sha256,
        bytes: length,
        header: encodeBase64(check.headerBytes),
        epochStart: header.epochStart,
        epochCount: header.epochCount,
      });
      invalidateShards(run);
      if ("unchanged" in result) return c.json({ shard, bytes: result.bytes, sha256, unchanged: true });
      return c.json(
        { shard, epochStart: header.epochStart, epochCount: header.epochCount, bytes: length, sha256 },
        201,
      );
    } finally {
      await bucket.delete(tmpKey);
    }
  })
  // POST /v1/runs/:run/tables/:shard/quarantine (admin) {reason, keep?}: take a bad shard out of
  // service (kept under quarantine/ unless keep is false), so its epochs can be uploaded again.
  // Recorded in the run's log (GET /v1/runs/:run/log).
  .post("/:run/tables/:shard/quarantine", async (c) => {
    const claims = requireRole(c, "admin");
    const run = parseRunId(c.req.param("run"));
    requireRun(claims, run);
    const shard = parseIntParam("shard", c.req.param("shard"), 0, MAX_SHARD);
    const parsed = quarantineBody.safeParse(await readJson(c));
    if (!parsed.success)
      throw new ApiError(
        400,
        "BAD_PARAM",
        `quarantine request: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}; send {"reason": "why", "keep": true}`,
      );
    await loadManifest(c.env.BUCKET, run);
    const entry = await callPublisher<LogEntry>(c.env.PUBLISHER, run, "quarantine", {
      run,
      shard,
      reason: parsed.data.reason,
      keep: parsed.data.keep,
      by: { jti: claims.jti, ...(claims.sub ? { sub: claims.sub } : {}) },
    });
    invalidateShards(run);
    return c.json(entry);
  });

const quarantineBody = z.object({ reason: z.string().min(1).max(1000), keep: z.boolean().default(true) }).strict();
